import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as tcpConnect, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { captureLogs } from '@twinhub/testkit';
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

  it('logs failed authentications at warn, at most one line per address per interval with a count, never the password, and slows them down', async () => {
    const { logger, raw, records } = captureLogs('warn');
    const fixture = await startHub({ logger, broker: { authFailureLogIntervalMs: 600 } });
    fixtures.push(fixture);
    const secret = 'th_secret-guess-123';
    const started = Date.now();
    for (let i = 0; i < 5; i++) assert.equal(await connectRefusal(fixture.url, { username: 'agent-a', password: `${secret}${i}` }), 4);
    const elapsed = Date.now() - started;
    const failures = records.filter((l) => l.msg === 'authentication failed' && l.binding === 'mqtt');
    assert.equal(failures[0].level, 40);
    assert.equal(failures[0].failures, 1, 'the first failure is logged at once');
    assert.equal(failures[0].remoteAddress, '127.0.0.1');
    assert.match(String(failures[0].reason), /agent-a/);
    assert.ok(failures.length >= 2 && failures.length < 5, `rate-limited: ${failures.length} lines for 5 failures`);
    const counted = failures.reduce((sum, l) => sum + Number(l.failures), 0);
    assert.ok(counted > failures.length && counted <= 5, `later lines carry counts (${counted} failures in ${failures.length} lines)`);
    // The 2nd to 5th refusals wait 100, 200, 400 and 800 ms: guessing from one address is slow.
    assert.ok(elapsed >= 1400, `5 failed logins took ${elapsed} ms`);
    assert.ok(!raw.join('\n').includes(secret), 'no password in the logs');
  });
});
