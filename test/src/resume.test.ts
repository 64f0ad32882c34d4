// Resuming notification streams across a hub restart (issue "Core v2"): notification ids are
// durable, so an SSE client that comes back with its Last-Event-ID after the hub was killed gets
// exactly what it missed or an explicit `reset` — never silence; and `/events` replays the
// created/updated/deleted events of a Thing deleted while the client was away.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { jsonRequest, lampTd, openSse } from '@twinhub/binding-http/testing';
import { cliToken, spawnHub, tempDataDir, type ChildHub } from './support.js';

const LAMP = 'urn:dev:ops:lamp-1';
const enc = encodeURIComponent;

describe('SSE resume across a kill -9 of the hub', () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let hub: ChildHub | undefined;
  const tokens = { agent: '', viewer: '' };

  before(async () => {
    data = await tempDataDir();
    tokens.agent = await cliToken(data.dir, 'agent', 'agent-1');
    tokens.viewer = await cliToken(data.dir, 'viewer', 'viewer-1');
  });
  after(async () => {
    hub?.child.kill('SIGKILL');
    await hub?.exited;
    await data.remove();
  });

  const report = (value: number) =>
    jsonRequest(hub!.urls.http, 'PUT', `/agent/things/${enc(LAMP)}/properties/brightness`, { token: tokens.agent, body: value });

  it('gets the missed events or an explicit reset after the restart, and live events with higher ids', async () => {
    hub = await spawnHub(data.dir);
    assert.equal((await jsonRequest(hub.urls.http, 'PUT', `/things/${enc(LAMP)}`, { token: tokens.agent, body: lampTd(LAMP) })).status, 201);
    const observe = `/things/${enc(LAMP)}/properties/brightness/observe`;
    const stream = await openSse(hub.urls.http, observe, { token: tokens.viewer });
    assert.equal((await report(1)).status, 204);
    const seen = await stream.next();
    assert.equal(seen.data, '1');
    stream.close();
    assert.equal((await report(2)).status, 204); // missed by the client

    hub.child.kill('SIGKILL');
    await hub.exited;
    hub = await spawnHub(data.dir);

    const resumed = await openSse(hub.urls.http, observe, { token: tokens.viewer, lastEventId: seen.id });
    assert.equal(resumed.status, 200);
    const first = await resumed.next();
    if (first.event === 'reset') {
      assert.equal(JSON.parse(first.data).lastEventId, Number(seen.id), 'the reset names the cursor it could not serve');
    } else {
      assert.deepEqual([first.event ?? 'message', first.data], ['message', '2'], 'or exactly the missed event');
    }
    assert.equal((await report(3)).status, 204);
    const live = await resumed.next();
    assert.equal(live.data, '3');
    assert.ok(Number(live.id) > Number(seen.id), `ids continue after the restart (${live.id} > ${seen.id}), so the cursor is never confused`);
    resumed.close();
  });
});

describe('/events replays a Thing deleted while the client was away', () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let hub: ChildHub;
  const tokens = { agent: '', viewer: '' };

  before(async () => {
    data = await tempDataDir();
    tokens.agent = await cliToken(data.dir, 'agent', 'agent-1');
    tokens.viewer = await cliToken(data.dir, 'viewer', 'viewer-1');
    hub = await spawnHub(data.dir);
  });
  after(async () => {
    hub.child.kill('SIGKILL');
    await hub.exited;
    await data.remove();
  });

  it('sends thing_created, thing_updated and thing_deleted of it, in order', async () => {
    const http = hub.urls.http;
    const events = await openSse(http, '/events', { token: tokens.viewer });
    assert.equal((await jsonRequest(http, 'PUT', `/things/${enc(LAMP)}`, { token: tokens.agent, body: lampTd(LAMP) })).status, 201);
    const cursor = await events.next();
    assert.equal(cursor.event, 'thing_created');
    events.close();

    const brief = 'urn:dev:ops:brief';
    assert.equal((await jsonRequest(http, 'PUT', `/things/${enc(brief)}`, { token: tokens.agent, body: lampTd(brief) })).status, 201);
    const patched = await jsonRequest(http, 'PATCH', `/things/${enc(brief)}`, {
      token: tokens.agent,
      body: { title: 'Brief' },
      headers: { 'Content-Type': 'application/merge-patch+json' },
    });
    assert.equal(patched.status, 204, patched.text);
    assert.equal((await jsonRequest(http, 'DELETE', `/things/${enc(brief)}`, { token: tokens.agent })).status, 204);

    const resumed = await openSse(http, '/events', { token: tokens.viewer, lastEventId: cursor.id });
    const replayed = [await resumed.next(), await resumed.next(), await resumed.next()];
    assert.deepEqual(
      replayed.map((e) => [e.event, (JSON.parse(e.data) as { id: string }).id]),
      [
        ['thing_created', brief],
        ['thing_updated', brief],
        ['thing_deleted', brief],
      ],
    );
    resumed.close();
  });
});
