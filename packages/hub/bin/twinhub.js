#!/usr/bin/env node
// The `twinhub` command's launcher. It is committed, executable, so npm can link it at install
// time, before the build exists; it runs the compiled CLI (`npm run build` or `npm start` builds it).
try {
  await import('../dist/cli.js');
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !String(error.message).includes('dist/cli.js')) throw error;
  process.stderr.write('twinhub is not built yet: run `npm run build` (or `npm start`) in the repository first\n');
  process.exit(1);
}
