// The @twinhub/client end-to-end scenario, run over WebSocket (client-ws.test.ts) and MQTT
// (client-mqtt.test.ts): an agent and a consumer built only on the client, against a real hub,
// with a TCP proxy in front of the hub so a test can cut a connection, keep a client offline,
// and restart the hub (on new ports) behind the same address.

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type AgentClient, type ConsumerClient, connectAgent, connectConsumer, type ThingNotificationMessage, TwinhubError } from '@twinhub/client';
import type { RunningHub } from '@twinhub/hub';
import { eventually, lampTd } from '@twinhub/testkit';
import { createTokens, startTestHub, tempDataDir, type Tokens } from './support.js';

/** A TCP proxy: cut() destroys every open connection, offline refuses new ones, retarget follows a restarted hub. */
export interface Proxy {
  readonly port: number;
  offline: boolean;
  target: number;
  cut(): void;
  close(): Promise<void>;
}

export async function startProxy(target: number): Promise<Proxy> {
  const sockets = new Set<net.Socket>();
  const proxy = {
    offline: false,
    target,
    port: 0,
    cut() {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        proxy.cut();
        server.close(() => resolve());
      }),
  };
  const server = net.createServer((inbound) => {
    if (proxy.offline) {
      inbound.destroy();
      return;
    }
    const outbound = net.connect(proxy.target, '127.0.0.1');
    for (const socket of [inbound, outbound]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        sockets.delete(socket);
        inbound.destroy();
        outbound.destroy();
      });
    }
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.port = (server.address() as net.AddressInfo).port;
  return proxy;
}

const portOf = (url: string) => Number(new URL(url).port);

const LAMP = 'urn:dev:ops:client-lamp';
const OTHER = 'urn:dev:ops:client-lamp-2';
const FAST = { backoff: { initialMs: 50, maxMs: 400 }, requestTimeoutMs: 20_000 };

export function describeClientScenario(transport: 'ws' | 'mqtt'): void {
  describe(`@twinhub/client over ${transport} against a live hub`, () => {
    let data: Awaited<ReturnType<typeof tempDataDir>>;
    let running: RunningHub;
    let tokens: Tokens;
    let agentProxy: Proxy;
    let consumerProxy: Proxy;
    let agent: AgentClient;
    let consumer: ConsumerClient;
    const warnings: string[] = [];
    /** How often each handler ran, by actionId. */
    const runs = new Map<string, number>();
    const count = (actionId: string) => runs.set(actionId, (runs.get(actionId) ?? 0) + 1);
    let brightness = 0;
    let writeGate: Promise<void> | undefined;
    let writeEntered: (() => void) | undefined;

    const hubPort = () => portOf(transport === 'ws' ? running.urls.http : running.urls.mqtt!);
    const url = (proxy: Proxy) => `${transport === 'ws' ? 'ws' : 'mqtt'}://127.0.0.1:${proxy.port}${transport === 'ws' ? '/ws' : ''}`;

    before(async () => {
      data = await tempDataDir();
      running = await startTestHub(data.dir);
      tokens = await createTokens(running);
      agentProxy = await startProxy(hubPort());
      consumerProxy = await startProxy(hubPort());
      agent = await connectAgent({ url: url(agentProxy), token: tokens.agent, clientId: 'agent-1', ...FAST, onWarning: (w) => warnings.push(w) });
      agent.onWrite(LAMP, 'brightness', async (value, { actionId }) => {
        count(actionId);
        writeEntered?.();
        if (writeGate) await writeGate;
        brightness = value as number;
      });
      agent.onAction(LAMP, 'fade', async (input, { actionId, progress }) => {
        count(actionId);
        const { level } = input as { level: number };
        if (level === 13) throw new Error('the lamp refuses 13');
        await progress({ percent: 50 });
        return { reached: level };
      });
      consumer = await connectConsumer({
        url: url(consumerProxy),
        token: tokens.operator,
        clientId: 'operator-1',
        ...FAST,
        onWarning: (w) => warnings.push(w),
      });
    });

    after(async () => {
      await agent?.close();
      await consumer?.close();
      await agentProxy?.close();
      await consumerProxy?.close();
      await running?.close();
      await data?.remove();
    });

    it('registers, reports, reads, observes, subscribes, writes and invokes', async () => {
      const directory: string[] = [];
      await consumer.onDirectory((n) => directory.push(`${n.operation} ${n.thingId ?? n.agentId}`));
      const twin = await agent.register(lampTd(LAMP));
      assert.equal(twin.id, LAMP);
      await agent.report(LAMP, { brightness: 5, status: 'on' });
      assert.equal(await consumer.read(LAMP, 'brightness'), 5);
      assert.deepEqual(await consumer.readAll(LAMP), { brightness: 5, status: 'on' });
      assert.deepEqual(
        (await consumer.things({ type: 'Light' })).map((td) => td.id),
        [LAMP],
      );
      assert.equal((await consumer.td(LAMP)).title, 'Lamp');
      await eventually(() => assert.ok(directory.includes(`thing_created ${LAMP}`), directory.join()));

      const seen: unknown[] = [];
      await consumer.observe(LAMP, 'brightness', (value) => seen.push(value));
      const events: unknown[] = [];
      await consumer.subscribe(LAMP, 'overheated', (data) => events.push(data));
      await agent.report(LAMP, { brightness: 6 });
      await agent.emit(LAMP, 'overheated', 81.5);
      await eventually(() => assert.deepEqual([seen.at(-1), events], [6, [81.5]]));

      const write = await consumer.write(LAMP, 'brightness', 40);
      assert.equal(write.record.operation, 'writeproperty');
      assert.equal(await write.result(10_000), undefined);
      assert.equal(brightness, 40, 'the write handler ran');
      await eventually(async () => assert.equal(await consumer.read(LAMP, 'brightness'), 40), 'the written value reported back');

      const statuses: string[] = [];
      const fade = await consumer.invoke(LAMP, 'fade', { level: 30 });
      fade.onStatus((record) => statuses.push(record.progress ? `${record.status}:${JSON.stringify(record.progress)}` : record.status));
      assert.deepEqual(await fade.result(10_000), { reached: 30 });
      assert.ok(statuses.includes('running:{"percent":50}'), `progress reached the handle: ${statuses.join()}`);
      assert.match(statuses.at(-1)!, /^completed/, statuses.join());
      assert.ok((await consumer.queryAction(LAMP, fade.actionId)).status === 'completed');

      const refused = await consumer.invoke(LAMP, 'fade', { level: 13 });
      const failure = await refused.result(10_000).then(
        () => assert.fail('a failed action must reject'),
        (error: unknown) => error,
      );
      assert.ok(failure instanceof TwinhubError);
      assert.equal(failure.status, 502);
      assert.match(failure.detail, /refuses 13/);

      assert.deepEqual(await agent.desired(LAMP), { brightness: 40 });
      const missing = await consumer.read('urn:dev:ops:nope', 'brightness').catch((error: unknown) => error);
      assert.ok(missing instanceof TwinhubError, 'errors are typed');
      assert.equal(missing.status, 404);
      assert.equal(typeof missing.detail, 'string');
    });

    it('survives a cut connection: buffered reports arrive, queued writes and actions run exactly once', { timeout: 60_000 }, async () => {
      const seen: unknown[] = [];
      await consumer.observe(LAMP, 'brightness', (value) => seen.push(value));
      const events: unknown[] = [];
      await consumer.subscribe(LAMP, 'overheated', (data) => events.push(data));

      agentProxy.offline = true;
      agentProxy.cut();
      await eventually(() => assert.equal(agent.state, 'reconnecting'));
      for (const value of [11, 12, 13]) void agent.report(LAMP, { brightness: value });
      for (const value of [90, 91]) void agent.emit(LAMP, 'overheated', value);
      assert.equal(agent.stats.buffered, 5, 'reports and events wait in the buffer');
      const handles = [
        await consumer.write(LAMP, 'brightness', 77),
        await consumer.invoke(LAMP, 'fade', { level: 1 }),
        await consumer.invoke(LAMP, 'fade', { level: 2 }),
        await consumer.invoke(LAMP, 'fade', { level: 3 }),
      ];
      for (const handle of handles) assert.equal(handle.record.status, 'pending', 'queued while the agent is away');

      agentProxy.offline = false;
      const outputs = await Promise.all(handles.map((handle) => handle.result(20_000)));
      assert.deepEqual(outputs, [undefined, { reached: 1 }, { reached: 2 }, { reached: 3 }]);
      for (const handle of handles) assert.equal(runs.get(handle.actionId), 1, `${handle.name} ${handle.actionId} ran once`);
      await eventually(() => assert.deepEqual(events.slice(-2), [90, 91]), 'the buffered events arrived in order');
      await eventually(() => assert.equal(seen.at(-1), 77), `the buffered reports then the write's report arrived: ${seen.join()}`);
      assert.ok(seen.includes(13), `the buffered reports were delivered: ${seen.join()}`);
      assert.equal(agent.stats.buffered, 0);
      assert.ok(agent.stats.reconnects >= 1);

      // A write the agent received but had not answered when its connection died is delivered again:
      // the client recognises it and runs the handler only once.
      let release!: () => void;
      writeGate = new Promise((resolve) => (release = resolve));
      const entered = new Promise<void>((resolve) => (writeEntered = resolve));
      const duplicatesBefore = agent.stats.duplicates;
      const pending = await consumer.write(LAMP, 'brightness', 55);
      await entered;
      agentProxy.cut();
      await eventually(() => assert.ok(agent.stats.duplicates > duplicatesBefore, 'the hub delivered the unanswered write again'), undefined, 10_000);
      release();
      writeGate = undefined;
      writeEntered = undefined;
      await pending.result(20_000);
      assert.equal(runs.get(pending.actionId), 1, 'handled exactly once despite the redelivery');
      await eventually(async () => assert.equal(await consumer.read(LAMP, 'brightness'), 55));
    });

    it('a consumer cut off misses no event the replay buffer holds: they arrive once, in order, after it reconnects', { timeout: 30_000 }, async () => {
      const events: unknown[] = [];
      const subscription = await consumer.subscribe(LAMP, 'overheated', (data) => events.push(data));
      consumerProxy.offline = true;
      consumerProxy.cut();
      await eventually(() => assert.equal(consumer.state, 'reconnecting'));
      for (const value of [70, 71, 72]) await agent.emit(LAMP, 'overheated', value);
      consumerProxy.offline = false;
      await eventually(() => assert.deepEqual(events, [70, 71, 72]), 'replayed from the seq the consumer last had', 20_000);
      await subscription.unsubscribe();
    });

    it('survives a hub restart: both reconnect, subscriptions resume, buffered reports and queued actions arrive once', { timeout: 60_000 }, async () => {
      const seen: Array<{ value: unknown; seq?: number }> = [];
      await consumer.observe(LAMP, 'brightness', (value, n?: ThingNotificationMessage) => seen.push({ value, seq: n?.seq }));
      await agent.report(LAMP, { brightness: 20 });
      await eventually(() => assert.equal(seen.at(-1)?.value, 20));
      const seqBefore = consumer.lastSeq;

      await running.close();
      await eventually(() => assert.equal(agent.state, 'reconnecting'));
      void agent.report(LAMP, { brightness: 21 }); // buffered while the hub is down
      const invoked = consumer.invoke(LAMP, 'fade', { level: 9 }); // waits for the connection

      running = await startTestHub(data.dir);
      agentProxy.target = hubPort();
      consumerProxy.target = hubPort();
      const handle = await invoked;
      assert.deepEqual(await handle.result(20_000), { reached: 9 });
      assert.equal(runs.get(handle.actionId), 1);
      await eventually(() => assert.equal(seen.at(-1)?.value, 21), `the buffered report reached the resumed observation: ${JSON.stringify(seen)}`);
      await agent.report(LAMP, { brightness: 22 });
      await eventually(() => assert.equal(seen.at(-1)?.value, 22), 'live again after the restart');
      assert.ok(consumer.lastSeq > seqBefore, 'notification numbers continue after the restart');
      assert.equal(consumer.state, 'connected');
      assert.ok(consumer.reconnects >= 1);
    });

    it('bounds the offline buffer: the oldest reports are dropped, counted and warned about', { timeout: 30_000 }, async () => {
      const proxy = await startProxy(hubPort());
      const dropWarnings: string[] = [];
      const small = await connectAgent({
        url: url(proxy),
        token: tokens.otherAgent,
        clientId: 'agent-2',
        ...FAST,
        bufferCapacity: 2,
        onWarning: (w) => dropWarnings.push(w),
      });
      try {
        await small.register(lampTd(OTHER));
        proxy.offline = true;
        proxy.cut();
        await eventually(() => assert.equal(small.state, 'reconnecting'));
        const results = [1, 2, 3, 4, 5].map((value) =>
          small.report(OTHER, { brightness: value }).then(
            () => 'sent',
            (error: unknown) => (error instanceof TwinhubError ? `dropped ${error.status}` : 'other'),
          ),
        );
        assert.deepEqual(small.stats, { ...small.stats, buffered: 2, dropped: 3 });
        assert.equal(dropWarnings.filter((w) => w.includes('dropped')).length, 3);
        assert.match(dropWarnings.at(-1)!, /3 dropped so far/);
        proxy.offline = false;
        assert.deepEqual(await Promise.all(results), ['dropped 507', 'dropped 507', 'dropped 507', 'sent', 'sent']);
        assert.equal(await consumer.read(OTHER, 'brightness'), 5);
      } finally {
        await small.close();
        await proxy.close();
      }
    });

    it("reads a property's history, newest first, with cursor paging and aggregation", async () => {
      for (const value of [31, 32, 33]) await agent.report(LAMP, { brightness: value });
      const page = await consumer.history(LAMP, 'brightness', { limit: 2 });
      assert.deepEqual(
        page.samples?.map((sample) => sample.value),
        [33, 32],
      );
      assert.ok(page.next, 'more samples follow');
      const older = await consumer.history(LAMP, 'brightness', { limit: 1, cursor: page.next });
      assert.deepEqual(
        older.samples?.map((sample) => sample.value),
        [31],
      );
      const buckets = await consumer.history(LAMP, 'brightness', { every: '1d', agg: ['max', 'count'] });
      assert.ok((buckets.buckets?.[0]?.max as number) >= 33);
    });

    it('refuses a bad token with a typed error', async () => {
      const refused = await connectAgent({ url: url(agentProxy), token: 'th_bad', clientId: 'agent-1' }).catch((error: unknown) => error);
      assert.ok(refused instanceof TwinhubError, String(refused));
      assert.equal(refused.status, 401);
    });
  });
}
