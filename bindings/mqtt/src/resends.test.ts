import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as tcpConnect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { eventually, quiet } from './testing.js';
import { LAMP, startHub, td, type Credentials, type Fixture } from './test-fixture.js';
import { topics } from './topics.js';

/** MQTT 3.1.1 §2.2.3: the remaining length, 7 bits per byte. */
function remainingLength(length: number): Buffer {
  const bytes: number[] = [];
  do {
    let byte = length % 128;
    length = Math.floor(length / 128);
    if (length > 0) byte |= 0x80;
    bytes.push(byte);
  } while (length > 0);
  return Buffer.from(bytes);
}

const utf8 = (text: string) => {
  const bytes = Buffer.from(text);
  return Buffer.concat([Buffer.from([bytes.length >> 8, bytes.length & 0xff]), bytes]);
};

/** CONNECT (MQTT 3.1.1 §3.1), clean session, username and password, keep-alive 60 s. */
function connectPacket(clientId: string, { username, password }: Credentials): Buffer {
  const body = Buffer.concat([utf8('MQTT'), Buffer.from([4, 0b1100_0010, 0, 60]), utf8(clientId), utf8(username), utf8(password)]);
  return Buffer.concat([Buffer.from([0x10]), remainingLength(body.length), body]);
}

/** PUBLISH QoS 1 (MQTT 3.1.1 §3.3) with the given packet id and DUP flag. */
function publishPacket(topic: string, packetId: number, payload: string, dup: boolean): Buffer {
  const body = Buffer.concat([utf8(topic), Buffer.from([packetId >> 8, packetId & 0xff]), Buffer.from(payload)]);
  return Buffer.concat([Buffer.from([0x30 | (dup ? 0x08 : 0) | 0x02]), remainingLength(body.length), body]);
}

/** A raw MQTT connection that counts the PUBACKs it gets, by packet id. */
async function rawClient(url: string, credentials: Credentials): Promise<{ socket: Socket; pubacks: number[] }> {
  const socket = tcpConnect(Number(new URL(url).port), '127.0.0.1');
  await once(socket, 'connect');
  const pubacks: number[] = [];
  let connacked = false;
  socket.on('data', (chunk: Buffer) => {
    // Small packets only: CONNACK (0x20) and PUBACK (0x40), four bytes each.
    for (let i = 0; i + 3 < chunk.length; i += 4) {
      if (chunk[i] === 0x20) connacked = chunk[i + 3] === 0;
      if (chunk[i] === 0x40) pubacks.push((chunk[i + 2] << 8) | chunk[i + 3]);
    }
  });
  socket.write(connectPacket(`raw-${Math.random().toString(36).slice(2, 8)}`, credentials));
  await eventually(() => assert.ok(connacked), 'CONNACK accepted');
  return { socket, pubacks };
}

describe('MQTT binding (embedded): a resent QoS 1 publish is not a second request', () => {
  let fixture: Fixture;
  const operator = { client: { id: 'operator-1', role: 'operator' as const } };
  const queued = async () => {
    const result = await fixture.hub.handle({ operation: 'queryallactions', thingId: LAMP }, operator);
    assert.ok(result.ok, JSON.stringify(result));
    return result.output as unknown[];
  };

  before(async () => {
    fixture = await startHub();
    assert.ok((await fixture.hub.handle({ operation: 'updateTD', input: td(LAMP, 'Lamp') }, { client: { id: 'agent-a', role: 'agent' } })).ok);
  });
  after(async () => {
    await fixture.close();
  });

  it('handles an action publish resent with DUP=1 and the same packet id once, and PUBACKs both', async () => {
    const before = (await queued()).length;
    const { socket, pubacks } = await rawClient(fixture.url, fixture.tokens.operator);
    try {
      socket.write(publishPacket(topics.action(LAMP, 'fade'), 7, '5', false));
      socket.write(publishPacket(topics.action(LAMP, 'fade'), 7, '5', true));
      await eventually(() => assert.deepEqual(pubacks, [7, 7]), 'both PUBACKed');
      await quiet(100);
      assert.equal((await queued()).length - before, 1, 'one request');
      // The same packet id without DUP is a new message (the client reuses ids after a PUBACK).
      socket.write(publishPacket(topics.action(LAMP, 'fade'), 7, '6', false));
      await eventually(() => assert.deepEqual(pubacks, [7, 7, 7]));
      assert.equal((await queued()).length - before, 2);
    } finally {
      socket.destroy();
    }
  });

  it('handles an envelope request resent with DUP=1 once, by its correlationId, even on a new connection', async () => {
    const before = (await queued()).length;
    const envelope = JSON.stringify({ type: 'request', operation: 'invokeaction', thingId: LAMP, name: 'fade', input: 9, correlationId: 'dup-corr-1' });
    const first = await rawClient(fixture.url, fixture.tokens.operator);
    first.socket.write(publishPacket(topics.clientRequests('operator-1'), 11, envelope, false));
    await eventually(() => assert.deepEqual(first.pubacks, [11]));
    first.socket.destroy();
    // The client did not see the PUBACK, reconnected and resent it (a new connection, another packet id).
    const second = await rawClient(fixture.url, fixture.tokens.operator);
    try {
      second.socket.write(publishPacket(topics.clientRequests('operator-1'), 12, envelope, true));
      await eventually(() => assert.deepEqual(second.pubacks, [12]));
      await quiet(100);
      assert.equal((await queued()).length - before, 1, 'one request');
    } finally {
      second.socket.destroy();
    }
  });
});
