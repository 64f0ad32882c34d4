import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createHub, type Hub } from '@twinhub/core';
import { MemoryStore } from '@twinhub/storage-memory';
import pino from 'pino';
import { createMqttBinding, type MqttBinding } from './index.js';
import { connectMqtt, quiet, type MqttTestClient } from './testing.js';
import { findMosquitto, freePort, MOSQUITTO_SKIP_HINT, waitForPort } from './test-fixture.js';
import { topics } from './topics.js';

const mosquitto = findMosquitto();

/** The Mosquitto ACL of docs/mqtt.md: only the hub publishes on hub topics. */
const ACL = `user twinhub
topic readwrite #

pattern write clients/%u/requests
pattern read clients/%u/#
pattern read agents/%u/requests
pattern read things/+/properties/+
pattern read things/+/events/+
`;

describe('MQTT external broker: the documented Mosquitto ACL stops forgeries', { skip: mosquitto ? false : MOSQUITTO_SKIP_HINT }, () => {
  let broker: ChildProcess;
  let dir: string;
  let url: string;
  let hub: Hub;
  let binding: MqttBinding;
  const clients: MqttTestClient[] = [];

  before(async () => {
    const port = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'twinhub-mosquitto-acl-'));
    // Started as root, mosquitto drops to its own user, which must still read these files.
    chmodSync(dir, 0o755);
    const passwords = join(dir, 'passwords');
    const mosquittoPasswd = join(dirname(mosquitto!).replace(/sbin$/, 'bin'), 'mosquitto_passwd');
    for (const [i, user] of ['twinhub', 'operator-1', 'viewer-1'].entries()) {
      execFileSync(mosquittoPasswd, [...(i === 0 ? ['-c'] : []), '-b', passwords, user, `${user}-secret`]);
    }
    chmodSync(passwords, 0o644);
    writeFileSync(join(dir, 'acl'), ACL);
    writeFileSync(
      join(dir, 'mosquitto.conf'),
      `listener ${port} 127.0.0.1\nallow_anonymous false\npassword_file ${passwords}\nacl_file ${join(dir, 'acl')}\npersistence false\n`,
    );
    broker = spawn(mosquitto!, ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
    await waitForPort(port);
    url = `mqtt://127.0.0.1:${port}`;
    hub = await createHub({ store: new MemoryStore() });
    await hub.tokens.create({ id: 'operator-1', role: 'operator' });
    await hub.tokens.create({ id: 'viewer-1', role: 'viewer' });
    binding = createMqttBinding({
      hub,
      logger: pino({ level: 'silent' }),
      mode: { external: { url, username: 'twinhub', password: 'twinhub-secret', clientId: 'twinhub' } },
    });
    await binding.start();
  });
  after(async () => {
    await Promise.all(clients.map((client) => client.close(true)));
    await binding?.close();
    await hub?.close();
    broker?.kill();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("does not forward a viewer's publishes on hub topics to the operator", async () => {
    const operator = await connectMqtt(url, { username: 'operator-1', password: 'operator-1-secret' });
    const viewer = await connectMqtt(url, { username: 'viewer-1', password: 'viewer-1-secret', subscribeOwnTopics: false });
    clients.push(operator, viewer);
    await operator.subscribe(['things/+/properties/+', 'things/+/events/+']);
    const forged = JSON.stringify({ forged: true, type: 'response', correlationId: 'x' });
    for (const topic of [
      topics.propertyValue('urn:dev:x', 'p'),
      topics.event('urn:dev:x', 'e'),
      topics.clientNotifications('operator-1'),
      topics.clientResponses('operator-1'),
      topics.clientErrors('operator-1'),
    ]) {
      await viewer.publish(topic, forged, { qos: 1, retain: true, raw: true });
    }
    // The hub's own answer arrives: the operator's subscriptions work, and a forgery would have come first.
    assert.equal((await operator.request({ operation: 'listTDs' })).status, 200);
    await quiet(200);
    assert.deepEqual(
      operator.received.filter((m) => m.payload.toString().includes('forged')).map((m) => m.topic),
      [],
    );
  });
});
