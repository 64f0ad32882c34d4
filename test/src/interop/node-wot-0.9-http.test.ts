// node-wot 0.9.2 (installed beside 0.8.16 by the packages/node-wot-0.9 workspace) runs the shared HTTP
// scenarios through the hub.

import { HttpClientFactory, installed, Servient } from '@twinhub/node-wot-0.9';
import { describeNodeWotHttp } from './node-wot-http-scenarios.js';

describeNodeWotHttp({ version: '0.9.2', installed, Servient, HttpClientFactory });
