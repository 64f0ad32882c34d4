import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as tcpConnect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { connectMqtt, connectRefusal, eventually, quiet } from './testing.js';
import { startHub, type Fixture } from './test-fixture.js';

async function idleSockets(url: string, count: number): Promise<Socket[]> {
  const { port } = new URL(url);
  return Promise.all(
    Array.from({ length: count }, async () => {
      const socket = tcpConnect(Number(port), '127.0.0.1');
      socket.on('error', () => {});
      await once(socket, 'connect');
      return socket;
    }),
  );
}

const isClosed = (socket: Socket) => socket.destroyed || socket.readableEnded;

describe('MQTT binding (embedded): connections before authentication', () => {
  const fixtures: Fixture[] = [];
  after(async () => {
    await Promise.all(fixtures.map((f) => f.close()));
  });

  it('closes sockets beyond the pending bound at once and idle ones after the connect timeout; clients still get in', async () => {
    const fixture = await startHub({ broker: { maxPendingConnections: 20, connectTimeoutMs: 800 } });
    fixtures.push(fixture);
    const before = await connectMqtt(fixture.url, fixture.tokens.operator);
    const sockets = await idleSockets(fixture.url, 30);
    for (const socket of sockets) socket.once('close', () => {});
    await eventually(() => assert.equal(sockets.filter(isClosed).length, 10), 'the 10 excess sockets closed', 500);
    await quiet(200);
    assert.equal(sockets.filter(isClosed).length, 10, 'the 20 within the bound wait for the connect timeout');
    // An authenticated connection is not pending: it keeps working.
    assert.equal((await before.request({ operation: 'listTDs' })).status, 200);
    await eventually(() => assert.equal(sockets.filter(isClosed).length, 30), 'the idle ones closed by the connect timeout', 3000);
    const after = await connectMqtt(fixture.url, fixture.tokens.viewer);
    assert.equal((await after.request({ operation: 'listTDs' })).status, 200);
    await Promise.all([before.close(true), after.close(true)]);
  });

  it('logs failed authentications at warn, at most one line per address per interval with a count, never the password', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
        callback();
      },
    });
    const fixture = await startHub({ logger: pino({ level: 'warn' }, sink), broker: { authFailureLogIntervalMs: 600 } });
    fixtures.push(fixture);
    const secret = 'th_secret-guess-123';
    for (let i = 0; i < 8; i++) assert.equal(await connectRefusal(fixture.url, { username: 'agent-a', password: `${secret}${i}` }), 4);
    const failures = () => lines.filter((l) => String(l.msg).startsWith('mqtt: authentication failed'));
    assert.equal(failures().length, 1, JSON.stringify(lines));
    assert.equal(failures()[0].level, 40);
    await eventually(() => assert.equal(failures().length, 2), 'the repeated-failures line', 2000);
    assert.deepEqual([failures()[0].failures, failures()[1].failures], [1, 7]);
    assert.equal(failures()[1].remote, '127.0.0.1');
    assert.ok(!JSON.stringify(lines).includes(secret), 'no password in the logs');
  });
});
