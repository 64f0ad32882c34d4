// An unmodified node-wot 0.8.16 consumer (MqttClientFactory, basic credentials = hub client id +
// token) uses a twin through the hub's embedded broker: reads (retained values), writes the agent
// answers, observes, invokes (delivery only: node-wot's MQTT invokeAction has no output), subscribes
// to events. Mirrors the example in docs/node-wot.md.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Servient } from '@node-wot/core';
import mqttBinding from '@node-wot/binding-mqtt'; // CommonJS: no named imports from ESM
import type { RunningHub } from '@twinhub/hub';
import { createTokens, startTestHub, tempDataDir, type Tokens } from '../support.js';
import { repeatUntil, startDeviceAgent, type DeviceAgent } from './device-agent.js';

const { MqttClientFactory } = mqttBinding;
const THING = 'urn:dev:ops:node-wot-mqtt-lamp';

/** The twin TD as the hub serves it; `security` picks its Thing-level scheme (`?security=`). */
async function fetchTwinTd(hubUrl: string, thingId: string, token: string, security?: string): Promise<WoT.ThingDescription> {
  const query = security ? `?security=${encodeURIComponent(security)}` : '';
  const response = await fetch(`${hubUrl}/things/${encodeURIComponent(thingId)}${query}`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(response.status, 200);
  return (await response.json()) as WoT.ThingDescription;
}

describe('node-wot 0.8.16 over MQTT (embedded broker)', () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let running: RunningHub;
  let tokens: Tokens;
  let agent: DeviceAgent;
  let thing: WoT.ConsumedThing;
  let td: WoT.ThingDescription;
  const servients: Servient[] = [];

  before(async () => {
    data = await tempDataDir();
    running = await startTestHub(data.dir);
    tokens = await createTokens(running);
    agent = await startDeviceAgent(running.urls.ws, tokens.agent, THING);

    // --- as in docs/node-wot.md -----------------------------------------------------------
    const servient = new Servient();
    servient.addClientFactory(new MqttClientFactory());
    servient.addCredentials({ [THING]: { username: 'operator-1', password: tokens.operator } });
    const WoT = await servient.start();
    // MQTT's basic scheme as the Thing-level default: node-wot 0.8.16 signs only with that one.
    td = await fetchTwinTd(running.urls.http, THING, tokens.operator, 'mqtt_basic_sc');
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

  it('the twin TD has the mqtt:// forms node-wot reads: topic in the URL path, mqv:qos, mqv:retain', () => {
    const forms = (td.properties!.brightness.forms as Record<string, unknown>[]).filter((f) => String(f.href).startsWith('mqtt://'));
    const read = forms.find((f) => (f.op as string[]).includes('readproperty'))!;
    assert.equal(new URL(String(read.href)).pathname.slice(1), `things/${encodeURIComponent(THING)}/properties/brightness`);
    assert.equal(read['mqv:retain'], true);
    assert.ok(forms.some((f) => (f.op as string[]).includes('writeproperty') && String(f.href).endsWith('/set')));
  });

  it('readProperty and readAllProperties get the retained values the agent reported', async () => {
    assert.equal(await (await thing.readProperty('brightness')).value(), 5);
    const all = await thing.readAllProperties();
    assert.deepEqual([...all.keys()].sort(), ['blob', 'brightness', 'status']);
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

  it('observeProperty gets the current (retained) value, then what the agent reports, until stopped', async () => {
    const seen: unknown[] = [];
    const observation = await thing.observeProperty('brightness', async (output) => void seen.push(await output.value()));
    await repeatUntil(
      () => seen.length >= 1,
      async () => undefined,
      'the retained value',
    );
    assert.equal(seen[0], 42);
    await repeatUntil(
      () => seen.includes(61),
      () => agent.report('brightness', 61),
      'a reported value',
    );
    await observation.stop();
    const count = seen.length;
    await agent.report('brightness', 7);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(seen.length, count, 'nothing after stop()');
  });

  it("invokeAction delivers the input to the agent (node-wot's MQTT client returns no output)", async () => {
    await thing.invokeAction('fade', { level: 30 });
    await repeatUntil(
      () => agent.received.some((r) => r.operation === 'invokeaction' && r.name === 'fade'),
      async () => undefined,
      'the agent to receive fade',
    );
    assert.deepEqual(agent.received.find((r) => r.name === 'fade')?.input, { level: 30 });
  });

  it('subscribeEvent delivers the events the agent publishes', async () => {
    const seen: unknown[] = [];
    const subscription = await thing.subscribeEvent('overheated', async (output) => void seen.push(await output.value()));
    await repeatUntil(
      () => seen.length >= 1,
      () => agent.publish('overheated', 90.5),
      'an event',
    );
    assert.equal(seen[0], 90.5);
    await subscription.stop();
  });

  it('a wrong token is refused by the broker (CONNACK "Bad username or password"); no credentials fail in node-wot', async () => {
    const wrong = new Servient();
    servients.push(wrong);
    wrong.addClientFactory(new MqttClientFactory());
    wrong.addCredentials({ [THING]: { username: 'operator-1', password: 'not-a-hub-token' } });
    const denied = await (await wrong.start()).consume(td);
    await assert.rejects(denied.readProperty('brightness'), /Bad username or password/);

    const anonymous = new Servient();
    servients.push(anonymous);
    anonymous.addClientFactory(new MqttClientFactory());
    const noCredentials = await (await anonymous.start()).consume(td);
    await assert.rejects(noCredentials.readProperty('brightness'), /no credentials/);
  });

  it('with the default twin TD (bearer first) node-wot 0.8.16 connects without credentials (its form-level security bug)', async () => {
    const plain = new Servient();
    servients.push(plain);
    plain.addClientFactory(new MqttClientFactory());
    plain.addCredentials({ [THING]: { username: 'operator-1', password: tokens.operator } });
    const asServed = await (await plain.start()).consume(await fetchTwinTd(running.urls.http, THING, tokens.operator));
    await assert.rejects(asServed.readProperty('brightness'), /Bad username or password/);
  });
});
