// The node-wot HTTP interop scenarios, shared by every node-wot version under test: an unmodified consumer
// (HttpClientFactory, bearer credentials) reads, writes the agent answers, observes (long polling), invokes
// with output, subscribes to events through the hub. Mirrors the example in docs/node-wot.md.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningHub } from '@twinhub/hub';
import { createTokens, startTestHub, tempDataDir, type Tokens } from '../support.js';
import { repeatUntil, startDeviceAgent, type DeviceAgent } from './device-agent.js';

/** What the scenarios use of a node-wot Servient; the 0.8 and 0.9 classes both have it. */
export interface NodeWotServient<ClientFactory> {
  addClientFactory(factory: ClientFactory): void;
  addCredentials(credentials: Record<string, unknown>): void;
  start(): Promise<typeof WoT>;
  shutdown(): Promise<void>;
}

/** One node-wot release: its `Servient` and binding-http's `HttpClientFactory`, from the same install. */
export interface NodeWotHttp<ClientFactory> {
  /** The exact version, as the test names show it. */
  version: string;
  /** The versions of the packages the classes came from (their package.json), checked against `version`. */
  installed: { core: string; bindingHttp: string };
  Servient: new () => NodeWotServient<ClientFactory>;
  HttpClientFactory: new () => ClientFactory;
}

/** The twin TD from the hub's directory (GET /things/{id}). */
async function fetchTwinTd(hubUrl: string, thingId: string, token: string): Promise<WoT.ThingDescription> {
  const response = await fetch(`${hubUrl}/things/${encodeURIComponent(thingId)}`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(response.status, 200);
  return (await response.json()) as WoT.ThingDescription;
}

/** Registers the suite `node-wot <version> over HTTP`, against its own hub and device agent. */
export function describeNodeWotHttp<ClientFactory>({ version, installed, Servient, HttpClientFactory }: NodeWotHttp<ClientFactory>): void {
  // One Thing id per version: the suites may run side by side.
  const THING = `urn:dev:ops:node-wot-${version}-http-lamp`;

  describe(`node-wot ${version} over HTTP`, () => {
    let data: Awaited<ReturnType<typeof tempDataDir>>;
    let running: RunningHub;
    let tokens: Tokens;
    let agent: DeviceAgent;
    let thing: WoT.ConsumedThing;
    const servients: NodeWotServient<ClientFactory>[] = [];

    before(async () => {
      data = await tempDataDir();
      running = await startTestHub(data.dir, { mqtt: false });
      tokens = await createTokens(running);
      agent = await startDeviceAgent(running.urls.ws, tokens.agent, THING);

      // --- as in docs/node-wot.md -----------------------------------------------------------
      const servient = new Servient();
      servient.addClientFactory(new HttpClientFactory());
      servient.addCredentials({ [THING]: { token: tokens.operator } });
      const WoT = await servient.start();
      const td = await fetchTwinTd(running.urls.http, THING, tokens.operator);
      thing = await WoT.consume(td);
      // -------------------------------------------------------------------------------------
      servients.push(servient);
    });

    after(async () => {
      for (const s of servients) await s.shutdown();
      await agent.close();
      await running.close();
      await data.remove();
      assert.deepEqual(agent.failures, []);
    });

    it(`runs @node-wot/core and binding-http ${version}`, () => {
      assert.deepEqual(installed, { core: version, bindingHttp: version });
    });

    it('readProperty and readAllProperties return the values the agent reported', async () => {
      assert.equal(await (await thing.readProperty('brightness')).value(), 5);
      const all = await thing.readAllProperties();
      assert.deepEqual([...all.keys()].sort(), ['blob', 'brightness', 'status']);
      assert.equal(await all.get('brightness')!.value(), 5);
      assert.equal(await all.get('status')!.value(), 'on');
    });

    it('writeProperty reaches the agent, which reports the value back; readProperty then shows it', async () => {
      await thing.writeProperty('brightness', 42);
      await repeatUntil(
        () => agent.received.some((r) => r.operation === 'writeproperty' && r.name === 'brightness' && r.input === 42),
        async () => undefined,
        'the agent to receive the write',
      );
      let read: unknown;
      await repeatUntil(
        () => read === 42,
        async () => void (read = await (await thing.readProperty('brightness')).value()),
        'the reported value',
      );
    });

    it('observeProperty (long polling) delivers the values the agent reports, until stopped', async () => {
      const seen: unknown[] = [];
      const errors: Error[] = [];
      const observation = await thing.observeProperty(
        'brightness',
        async (output) => void seen.push(await output.value()),
        (error) => void errors.push(error),
      );
      const reported: number[] = [];
      await repeatUntil(
        () => seen.length >= 1,
        async (attempt) => {
          reported.push(60 + attempt);
          await agent.report('brightness', 60 + attempt);
        },
        'an observed value',
      );
      assert.ok(reported.includes(seen[0] as number), `observed ${String(seen[0])}, reported ${reported.join(', ')}`);
      // The next poll follows on its own: a later report arrives too.
      await repeatUntil(
        () => seen.some((v) => v === 99),
        () => agent.report('brightness', 99),
        'a second observed value',
      );
      await observation.stop();
      const count = seen.length;
      await agent.report('brightness', 7);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(seen.length, count, 'nothing after stop()');
      assert.deepEqual(
        errors.filter((e) => !/abort/i.test(e.message)),
        [],
      );
    });

    it("invokeAction sends the input and returns the agent's output (Prefer: wait)", async () => {
      const output = await thing.invokeAction('fade', { level: 30 });
      assert.deepEqual(await output!.value(), { reached: 30 });
      const request = agent.received.find((r) => r.operation === 'invokeaction' && r.name === 'fade');
      assert.deepEqual(request?.input, { level: 30 });
    });

    it('subscribeEvent (long polling) delivers the events the agent publishes', async () => {
      const seen: unknown[] = [];
      const subscription = await thing.subscribeEvent('overheated', async (output) => void seen.push(await output.value()));
      const published: number[] = [];
      await repeatUntil(
        () => seen.length >= 1,
        async (attempt) => {
          published.push(80.5 + attempt);
          await agent.publish('overheated', 80.5 + attempt);
        },
        'an event',
      );
      assert.ok(published.includes(seen[0] as number), `got ${String(seen[0])}, published ${published.join(', ')}`);
      await subscription.stop();
    });

    it('a wrong token gets the hub\'s 401 (node-wot: "Client error: Unauthorized"); no credentials fail before any request', async () => {
      const wrong = new Servient();
      servients.push(wrong);
      wrong.addClientFactory(new HttpClientFactory());
      wrong.addCredentials({ [THING]: { token: 'not-a-hub-token' } });
      const td = await fetchTwinTd(running.urls.http, THING, tokens.operator);
      const denied = await (await wrong.start()).consume(td);
      await assert.rejects(denied.readProperty('brightness'), /Client error: Unauthorized/);
      await assert.rejects(denied.invokeAction('fade', { level: 1 }), /Client error: Unauthorized/);
      await assert.rejects(
        denied.observeProperty('brightness', () => undefined),
        /Client error: Unauthorized/,
      );

      const anonymous = new Servient();
      servients.push(anonymous);
      anonymous.addClientFactory(new HttpClientFactory());
      const noCredentials = await (await anonymous.start()).consume(td);
      await assert.rejects(noCredentials.readProperty('brightness'), /token/); // node-wot: "Cannot destructure property 'token' of 'undefined'"
    });
  });
}
