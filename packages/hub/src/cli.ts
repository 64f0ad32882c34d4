#!/usr/bin/env node
// The `twinhub` command: `serve` runs the hub; `token create|list|revoke` manage bearer tokens in
// the data folder and `repair` salvages a damaged one (while the hub is stopped: the embedded
// store allows one process at a time).

import { parseArgs } from 'node:util';
import { StoreError } from '@twinhub/bucket';
import { createHub, isHubError, ROLES, type Role } from '@twinhub/core';
import { repairLevelStore } from '@twinhub/storage-level';
import { ConfigError, type Flags, resolveConfig, settingOptions, settingsHelp } from './config.js';
import { createLogger } from './logger.js';
import { openStore, startHub } from './server.js';
import { stopOnSignals } from './stop.js';

const USAGE = `Usage:
  twinhub serve [options]                               run the hub
  twinhub token create --role <role> --id <clientId>    issue a token (roles: ${ROLES.join(', ')})
  twinhub token list                                    list tokens (never the secrets)
  twinhub token revoke <tokenId|clientId>               revoke a token, or all of a client's
  twinhub repair --data <dir>                           salvage a damaged data folder (hub stopped; see docs/storage.md)

Options (each also read from the environment variable in brackets):
${settingsHelp()}
`;

async function serve(flags: Flags): Promise<void> {
  const config = resolveConfig(flags);
  const logger = createLogger(config.logLevel);
  const running = await startHub(config, logger);
  const lines = [`twinhub listening`, `  HTTP  ${running.urls.http}/things`, `  WS    ${running.urls.ws}`];
  if (running.urls.mqtt) lines.push(`  MQTT  ${running.urls.mqtt}`);
  if (running.metricsUrl) lines.push(`  metrics ${running.metricsUrl}`);
  lines.push(`  data  ${config.memory ? '(in memory: nothing is kept after exit)' : config.dataDir}`);
  if (running.firstAdminToken) {
    lines.push('', 'First start: an admin token was created. It is shown only this once (only its hash is stored):', `  ${running.firstAdminToken}`);
  }
  stopOnSignals(running, { logger, timeoutSeconds: config.shutdownTimeoutSeconds });
  // The banner says "ready": a supervisor may signal us as soon as it reads it, so the handlers
  // are installed first (otherwise such a SIGTERM kills the process without a graceful stop).
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function token(args: string[], flags: Flags): Promise<void> {
  const config = resolveConfig(flags);
  if (config.memory) throw new ConfigError('token commands need a data folder, not --memory');
  const logger = createLogger(config.logLevel);
  const hub = await createHub({ store: await openStore(config, logger), logger });
  try {
    const [action, target] = args;
    if (action === 'create') {
      const role = flags.role as Role | undefined;
      const id = flags.id as string | undefined;
      if (!role || !id) throw new ConfigError('token create needs --role <role> and --id <clientId>');
      const created = await hub.tokens.create({ id, role });
      process.stdout.write(`${created.token}\n`);
      process.stderr.write(`token ${created.tokenId} for ${id} (${role}); it is shown only this once\n`);
    } else if (action === 'list') {
      for (const t of hub.tokens.list()) process.stdout.write(`${t.tokenId}  ${t.role.padEnd(8)}  ${t.clientId}  ${t.created}\n`);
    } else if (action === 'revoke') {
      if (!target) throw new ConfigError('token revoke needs a tokenId or a clientId');
      const count = await hub.tokens.revoke(target);
      if (count === 0) throw new ConfigError(`no token with id or client id '${target}'`);
      process.stdout.write(`revoked ${count} token(s)\n`);
    } else {
      throw new ConfigError(`unknown token command '${action ?? ''}'\n\n${USAGE}`);
    }
  } finally {
    await hub.close();
  }
}

async function repair(flags: Flags): Promise<void> {
  const config = resolveConfig(flags);
  if (config.memory) throw new ConfigError('repair needs a data folder, not --memory');
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(`Repairing ${config.dataDir}: LevelDB keeps every record it can still read; whatever was damaged or lost stays lost.`);
  const report = await repairLevelStore(config.dataDir, { log: createLogger(config.logLevel).child({ module: 'storage' }) });
  const buckets = Object.entries(report.buckets).sort(([a], [b]) => (a < b ? -1 : 1));
  out(buckets.length === 0 ? 'The folder now holds no records.' : 'Records per bucket after the repair:');
  for (const [bucket, count] of buckets) out(`  ${bucket.padEnd(12)} ${count}`);
  if (report.expectedCommits !== undefined && report.expectedCommits > report.commits) {
    out(`Data was lost: ${report.expectedCommits - report.commits} of ${report.expectedCommits} acknowledged write batches could not be recovered.`);
  } else if (report.expectedCommits === undefined) {
    out('The folder had no integrity file, so what it held before cannot be compared: data may have been lost.');
  } else {
    out(`All ${report.commits} acknowledged write batches are present (damaged files may still have cost some records).`);
  }
  out('The integrity checks start afresh from this state; `twinhub serve` will open the folder again.');
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: { ...settingOptions(), role: { type: 'string' }, id: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  if (command === 'serve') return serve(values);
  if (command === 'token') return token(rest, values);
  if (command === 'repair') return repair(values);
  throw new ConfigError(`unknown command '${command}'\n\n${USAGE}`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  // A StoreError's message already says what happened and what to do (e.g. `twinhub repair`).
  const message =
    error instanceof ConfigError || error instanceof StoreError || isHubError(error) || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
      ? (error as Error).message
      : `twinhub failed: ${(error as Error).message}`;
  process.stderr.write(`${message}\n`);
  process.exit(error instanceof ConfigError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ? 2 : 1);
});
