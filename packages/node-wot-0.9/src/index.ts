// node-wot 0.9.x (core and binding-http) for the interop tests, beside the 0.8.16 the rest of the repo uses.
// Its own workspace so npm nests 0.9 under this package's node_modules, where binding-http 0.9 finds core 0.9
// (one copy: same classes) while every other workspace keeps resolving @node-wot/* to 0.8.16.

import { createRequire } from 'node:module';
import httpBinding from '@node-wot/binding-http'; // CommonJS: no named imports from ESM

export { Servient } from '@node-wot/core';
export const HttpClientFactory = httpBinding.HttpClientFactory;

const require = createRequire(import.meta.url);
const versionOf = (name: string) => (require(`${name}/package.json`) as { version: string }).version;

/** The versions resolved from here, so a test can check that it runs the node-wot it names. */
export const installed = { core: versionOf('@node-wot/core'), bindingHttp: versionOf('@node-wot/binding-http') };
