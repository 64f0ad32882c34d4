// The node-wot device adapter of @twinhub/client: a node-wot 0.8.16 ExposedThing (WoT.produce, no
// protocol server of its own) served through the hub by exposeThroughHub, and consumed by an
// unmodified node-wot 0.8.16 consumer through the twin TD over HTTP: read, write, observe, invoke, subscribe.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import httpBinding from '@node-wot/binding-http'; // CommonJS: no named imports from ESM
import { Servient } from '@node-wot/core';
import { type AgentClient, connectAgent } from '@twinhub/client';
import { exposeThroughHub, type HubThing } from '@twinhub/client/node-wot';
import type { RunningHub } from '@twinhub/hub';
import { repeatUntil } from './interop/device-agent.js';
import { createTokens, startTestHub, tempDataDir, type Tokens } from './support.js';

const THING = 'urn:dev:ops:node-wot-exposed-lamp';

describe('a node-wot ExposedThing served through the hub by @twinhub/client/node-wot', () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let running: RunningHub;
  let tokens: Tokens;
  let agent: AgentClient;
  let device: Servient;
  let consumerServient: Servient;
  let exposed: WoT.ExposedThing;
  let served: HubThing;
  let thing: WoT.ConsumedThing;
  let brightness = 10;
  const writes: unknown[] = [];

  before(async () => {
    data = await tempDataDir();
    running = await startTestHub(data.dir, { mqtt: false });
    tokens = await createTokens(running);

    // --- the device: plain node-wot, plus three lines to put it behind the hub --------------
    device = new Servient();
    const deviceWoT = await device.start();
    exposed = await deviceWoT.produce({
      id: THING,
      title: 'node-wot lamp',
      properties: { brightness: { type: 'integer', minimum: 0, maximum: 100, observable: true } },
      actions: {
        fade: {
          input: { type: 'object', properties: { level: { type: 'integer' } }, required: ['level'] },
          output: { type: 'object', properties: { reached: { type: 'integer' } } },
        },
      },
      events: { overheated: { data: { type: 'number' } } },
    });
    exposed.setPropertyReadHandler('brightness', async () => brightness);
    exposed.setPropertyWriteHandler('brightness', async (value) => {
      brightness = (await value.value()) as number;
      writes.push(brightness);
    });
    exposed.setActionHandler('fade', async (params) => {
      const { level } = (await params!.value()) as { level: number };
      brightness = level;
      return { reached: level };
    });
    agent = await connectAgent({ url: running.urls.ws, token: tokens.agent });
    served = await exposeThroughHub(exposed, agent);
    // -----------------------------------------------------------------------------------------

    consumerServient = new Servient();
    consumerServient.addClientFactory(new httpBinding.HttpClientFactory());
    consumerServient.addCredentials({ [THING]: { token: tokens.operator } });
    const consumerWoT = await consumerServient.start();
    const response = await fetch(`${running.urls.http}/things/${encodeURIComponent(THING)}`, { headers: { Authorization: `Bearer ${tokens.operator}` } });
    assert.equal(response.status, 200);
    thing = await consumerWoT.consume((await response.json()) as WoT.ThingDescription);
  });

  after(async () => {
    served?.stop();
    await agent?.close();
    await consumerServient?.shutdown();
    await device?.shutdown();
    await running?.close();
    await data?.remove();
  });

  it('registers the TD under its id and reports the initial value', async () => {
    assert.equal(served.thingId, THING);
    assert.equal(served.twinTd.title, 'node-wot lamp');
    assert.equal(await (await thing.readProperty('brightness')).value(), 10);
  });

  it("writeProperty reaches the ExposedThing's write handler; the value read back is the Thing's", async () => {
    await thing.writeProperty('brightness', 42);
    await repeatUntil(
      () => writes.includes(42),
      async () => undefined,
      'the write handler',
    );
    let read: unknown;
    await repeatUntil(
      () => read === 42,
      async () => void (read = await (await thing.readProperty('brightness')).value()),
      'the reported value',
    );
  });

  it('observeProperty delivers what the ExposedThing announces with emitPropertyChange', async () => {
    const seen: unknown[] = [];
    const observation = await thing.observeProperty('brightness', async (output) => void seen.push(await output.value()));
    await repeatUntil(
      () => seen.includes(77),
      async () => {
        brightness = 77;
        await exposed.emitPropertyChange('brightness');
      },
      'the observed change',
    );
    await observation.stop();
  });

  it("invokeAction runs the ExposedThing's action handler and returns its output", async () => {
    const output = await thing.invokeAction('fade', { level: 30 });
    assert.deepEqual(await output!.value(), { reached: 30 });
    assert.equal(brightness, 30);
  });

  it('subscribeEvent delivers what the ExposedThing emits with emitEvent', async () => {
    const seen: unknown[] = [];
    const subscription = await thing.subscribeEvent('overheated', async (output) => void seen.push(await output.value()));
    await repeatUntil(
      () => seen.length > 0,
      async (attempt) => exposed.emitEvent('overheated', 80 + attempt),
      'an event',
    );
    assert.ok((seen[0] as number) >= 80);
    await subscription.stop();
  });
});
