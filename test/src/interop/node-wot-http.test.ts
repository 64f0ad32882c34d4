// node-wot 0.8.16 (the @node-wot/* every workspace resolves) runs the shared HTTP scenarios through the hub.

import { createRequire } from 'node:module';
import { Servient } from '@node-wot/core';
import httpBinding from '@node-wot/binding-http'; // CommonJS: no named imports from ESM
import { describeNodeWotHttp } from './node-wot-http-scenarios.js';

const require = createRequire(import.meta.url);
const versionOf = (name: string) => (require(`${name}/package.json`) as { version: string }).version;

describeNodeWotHttp({
  version: '0.8.16',
  installed: { core: versionOf('@node-wot/core'), bindingHttp: versionOf('@node-wot/binding-http') },
  Servient,
  HttpClientFactory: httpBinding.HttpClientFactory,
});
