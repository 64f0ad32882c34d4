import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { startHttpHub, type HttpHubFixture } from './testing.js';

/** A keep-alive connection that sends raw HTTP/1.1 requests and reads the status of each answer. */
async function connection(url: string) {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  await once(socket, 'connect');
  let buffered = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (buffered += chunk));
  return {
    socket,
    async get(path: string): Promise<number> {
      buffered = '';
      socket.write(`GET ${path} HTTP/1.1\r\nHost: hub\r\n\r\n`);
      while (!/\r\n\r\n/.test(buffered)) await once(socket, 'data');
      return Number(/^HTTP\/1\.1 (\d{3})/.exec(buffered)?.[1]);
    },
  };
}

describe('HTTP connection bound', () => {
  let fixture: HttpHubFixture;
  before(async () => {
    fixture = await startHttpHub({ limits: { maxConnections: 2 } });
  });
  after(async () => {
    await fixture.close();
  });

  it('answers 503 with Retry-After on connections beyond maxConnections, and serves again once one closes', async () => {
    const first = await connection(fixture.url);
    const second = await connection(fixture.url);
    assert.equal(await first.get('/health'), 200);
    assert.equal(await second.get('/health'), 200);
    const third = await connection(fixture.url);
    assert.equal(await third.get('/health'), 503);
    assert.equal(await first.get('/health'), 200, 'connections within the bound keep being served');
    first.socket.destroy();
    await once(first.socket, 'close');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const fourth = await connection(fixture.url);
    assert.equal(await fourth.get('/health'), 200, 'a freed slot is used again');
    for (const c of [second, third, fourth]) c.socket.destroy();
  });
});
