// The directory's own TD, served at /.well-known/wot (WoT Discovery §6.1 Well-Known URIs): the
// W3C Thing Model of a Thing Description Directory (assets/directory.tm.json), instantiated with
// the hub's base URL and security, keeping only the affordances whose routes the hub serves.

import { readFileSync } from 'node:fs';
import type { HttpRouter } from './route.js';

type Json = Record<string, unknown>;

const MODEL = JSON.parse(readFileSync(new URL('../assets/directory.tm.json', import.meta.url), 'utf8')) as Json;
const SECTIONS = ['properties', 'actions', 'events'] as const;

/** The path of a form's href with URI-template variables filled in and its query template dropped. */
function samplePath(href: string): string {
  return href
    .replace(/\{\?[^}]*\}/g, '')
    .split('?')[0]
    .replace(/\{[^}]*\}/g, 'x');
}

/**
 * The directory TD for `baseUrl`. A form stays when the router serves its method and path (an
 * SSE form's method is GET); an affordance left without forms goes (e.g. XPath search).
 */
export function directoryTd(router: HttpRouter, baseUrl: string, version: string): Json {
  const td = structuredClone(MODEL);
  for (const section of SECTIONS) {
    const affordances = td[section] as Record<string, Json>;
    for (const [name, affordance] of Object.entries(affordances)) {
      const forms = (affordance.forms as Json[]).filter((form) => {
        const method = typeof form['htv:methodName'] === 'string' ? form['htv:methodName'] : 'GET';
        return router.lookup(method, samplePath(String(form.href))).kind === 'found';
      });
      if (forms.length === 0) delete affordances[name];
      else affordance.forms = forms;
    }
  }
  delete td['tm:optional'];
  return {
    ...td,
    '@type': 'ThingDirectory',
    id: `${baseUrl}/.well-known/wot`,
    title: 'twinhub Thing Description Directory',
    description: 'The Things API, notifications and search of this twinhub instance (W3C WoT Discovery).',
    version: { instance: version, model: (td.version as Json | undefined)?.model },
    base: baseUrl,
    securityDefinitions: { bearer_sc: { scheme: 'bearer', in: 'header', name: 'Authorization' } },
    security: ['bearer_sc'],
  };
}
