// The URLs twin TD forms name when the hub serves a network (--host 0.0.0.0) behind a public name
// (--public-url, --mqtt-public-url): never the unspecified address, the same host for every binding.
// The hub listens on every interface here, but the test only talks to it on 127.0.0.1.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { jsonRequest, lampTd } from '@twinhub/binding-http/testing';
import type { HubConfig, RunningHub } from '@twinhub/hub';
import { createTokens, startTestHub, tempDataDir, type Tokens } from './support.js';

const THING = 'urn:dev:ops:lamp-1';

interface FormsByScheme {
  http: string[];
  ws: string[];
  mqtt: string[];
}

/** Every form href of the served twin TD, by scheme family (http/https, ws/wss, mqtt/mqtts). */
async function formHrefs(running: RunningHub, tokens: Tokens): Promise<FormsByScheme> {
  const created = await jsonRequest(running.urls.http, 'PUT', `/things/${encodeURIComponent(THING)}`, { token: tokens.agent, body: lampTd(THING) });
  assert.ok(created.status < 300, created.text);
  const td = await jsonRequest(running.urls.http, 'GET', `/things/${encodeURIComponent(THING)}`, { token: tokens.operator });
  assert.equal(td.status, 200, td.text);
  const hrefs: string[] = [];
  const collect = (forms: unknown) => {
    for (const form of (forms as Array<{ href: string }> | undefined) ?? []) hrefs.push(form.href);
  };
  const body = td.body as { forms?: unknown } & Record<'properties' | 'actions' | 'events', Record<string, { forms?: unknown }> | undefined>;
  collect(body.forms);
  for (const kind of ['properties', 'actions', 'events'] as const) for (const affordance of Object.values(body[kind] ?? {})) collect(affordance.forms);
  const of = (pattern: RegExp) => hrefs.filter((href) => pattern.test(href));
  const byScheme = { http: of(/^https?:/), ws: of(/^wss?:/), mqtt: of(/^mqtts?:/) };
  assert.equal(byScheme.http.length + byScheme.ws.length + byScheme.mqtt.length, hrefs.length, `only known schemes: ${hrefs.join(', ')}`);
  for (const list of Object.values(byScheme)) assert.ok(list.length > 0, `forms of every binding: ${hrefs.join(', ')}`);
  return byScheme;
}

function describeHub(title: string, overrides: Partial<HubConfig>, check: (forms: FormsByScheme, running: RunningHub) => void) {
  describe(title, () => {
    let data: Awaited<ReturnType<typeof tempDataDir>>;
    let running: RunningHub;
    let tokens: Tokens;

    before(async () => {
      data = await tempDataDir();
      running = await startTestHub(data.dir, overrides);
      tokens = await createTokens(running);
    });
    after(async () => {
      await running?.close();
      await data?.remove();
    });

    it('serves twin TD forms naming the public host for HTTP, WS and MQTT', async () => {
      assert.match(running.urls.http, /^http:\/\/127\.0\.0\.1:\d+$/, 'this process reaches the hub on loopback');
      check(await formHrefs(running, tokens), running);
    });
  });
}

const mqttPort = (running: RunningHub) => new URL(running.urls.mqtt!).port;

describeHub('--host 0.0.0.0 --public-url https://hub.example.com', { host: '0.0.0.0', publicUrl: 'https://hub.example.com' }, (forms, running) => {
  for (const href of forms.http) assert.ok(href.startsWith('https://hub.example.com/things/'), href);
  for (const href of forms.ws) assert.equal(href, 'wss://hub.example.com/ws');
  for (const href of forms.mqtt) assert.ok(href.startsWith(`mqtt://hub.example.com:${mqttPort(running)}/things/`), href);
});

describeHub(
  '--host 0.0.0.0 --public-url https://hub.example.com --mqtt-public-url mqtts://mqtt.example.com:8883',
  {
    host: '0.0.0.0',
    publicUrl: 'https://hub.example.com',
    mqttPublicUrl: 'mqtts://mqtt.example.com:8883',
  },
  (forms) => {
    for (const href of forms.http) assert.ok(href.startsWith('https://hub.example.com/things/'), href);
    for (const href of forms.ws) assert.equal(href, 'wss://hub.example.com/ws');
    for (const href of forms.mqtt) assert.ok(href.startsWith('mqtts://mqtt.example.com:8883/things/'), href);
  },
);

describeHub('--host 0.0.0.0 without a public URL', { host: '0.0.0.0' }, (forms, running) => {
  // The machine's name, as a URL spells it (lower case).
  const host = new URL(`http://${hostname()}`).hostname;
  const httpPort = new URL(running.urls.http).port;
  for (const href of forms.http) assert.ok(href.startsWith(`http://${host}:${httpPort}/things/`), href);
  for (const href of forms.ws) assert.equal(href, `ws://${host}:${httpPort}/ws`);
  for (const href of forms.mqtt) assert.ok(href.startsWith(`mqtt://${host}:${mqttPort(running)}/things/`), href);
});
