import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_LIMITS, type Client, type HubApi, type NotificationMessage, type Session, type SessionSink } from '@twinhub/core';
import { namedNotificationFormatter, valueFormatter, agentRequestFormatter } from './formatters.js';
import { SseStream } from './sse-stream.js';

/** Just enough hub for a stream: sessions, a replay buffer, limits. */
class StubHub {
  readonly limits = { ...DEFAULT_LIMITS };
  readonly sinks = new Map<string, SessionSink>();
  readonly closed: string[] = [];
  replay: NotificationMessage[] | undefined = [];
  private next = 0;
  openSession(client: Client, binding: string, sink: SessionSink): Session {
    const session = { id: `s${++this.next}`, client, binding };
    this.sinks.set(session.id, sink);
    return session;
  }
  closeSession(session: Session): void {
    if (this.sinks.delete(session.id)) this.closed.push(session.id);
  }
  /** The stub queues no requests: nothing to resume. */
  resumeDelivery(): void {}
  notificationsSince(seq: number): NotificationMessage[] | undefined {
    return this.replay?.filter((n) => n.seq > seq);
  }
  push(message: NotificationMessage): void {
    for (const sink of this.sinks.values()) sink.send(message);
  }
}

const note = (seq: number, name = 'p', data: unknown = seq): NotificationMessage => ({
  type: 'notification',
  operation: 'observeproperty',
  thingId: 't',
  name,
  data,
  timestamp: new Date(0).toISOString(),
  seq,
});

const client: Client = { id: 'c', role: 'viewer' };

describe('SseStream', () => {
  let hub: StubHub;
  let server: http.Server;
  let url: string;
  let onRequest: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  before(async () => {
    server = http.createServer((req, res) => onRequest(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );

  /** Serves one stream with `setup` and returns the raw text the client received once `until` holds. */
  async function read(setup: (stream: SseStream) => void, until: (text: string) => boolean): Promise<string> {
    hub = new StubHub();
    onRequest = (_req, res) => {
      const stream = new SseStream({ hub: hub as unknown as HubApi, client, res, format: valueFormatter((m) => m.name === 'p'), heartbeatSeconds: 0 });
      setup(stream);
    };
    return new Promise((resolve, reject) => {
      http
        .get(url, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
            if (until(text)) {
              res.destroy();
              resolve(text);
            }
          });
          res.on('end', () => resolve(text));
        })
        .on('error', reject);
    });
  }

  test('messages pushed before start() are sent after the head, in order, filtered by the formatter', async () => {
    const text = await read(
      (stream) => {
        hub.push(note(1));
        hub.push(note(2, 'other'));
        hub.push(note(3));
        stream.start();
      },
      (t) => t.includes('data: 3'),
    );
    assert.equal(text, ': stream open\n\nid: 1\ndata: 1\n\nid: 3\ndata: 3\n\n');
  });

  test('Last-Event-ID replays before live messages without duplicates', async () => {
    const text = await read(
      (stream) => {
        hub.replay = [note(4), note(5), note(6)];
        hub.push(note(6)); // arrived live during the subscription: also in the replay
        stream.start({ lastEventId: '4' });
        hub.push(note(7));
      },
      (t) => t.includes('data: 7'),
    );
    assert.equal(text, ': stream open\n\nid: 5\ndata: 5\n\nid: 6\ndata: 6\n\nid: 7\ndata: 7\n\n');
  });

  test('a replay larger than the send buffer limit reaches a reading client whole', async () => {
    const count = 250; // about 1 KiB each, written in one go: ~4x the limit
    const text = await read(
      (stream) => {
        hub.limits.maxSendBufferBytes = 64 * 1024;
        hub.replay = Array.from({ length: count }, (_, i) => note(i + 1, 'p', `${i + 1}:${'x'.repeat(1000)}`));
        stream.start({ lastEventId: '0' });
      },
      (t) => t.includes(`data: "${count}:`),
    );
    assert.equal(text.match(/^id: /gm)?.length, count);
    assert.deepEqual(hub.closed, []);
  });

  test('an evicted Last-Event-ID gets event: reset', async () => {
    const text = await read(
      (stream) => {
        hub.replay = undefined;
        stream.start({ lastEventId: '10' });
      },
      (t) => t.includes('reset'),
    );
    assert.match(text, /event: reset\ndata: \{"lastEventId":10,/);
  });

  test('the core closing the session ends the response', async () => {
    const text = await read(
      (stream) => {
        stream.start();
        hub.sinks.get(stream.session.id)!.close('token revoked');
      },
      () => false,
    );
    assert.equal(text, ': stream open\n\n');
    assert.equal(hub.closed.length, 1);
  });

  test('too much output before start() is refused with 503, and the session closed', async () => {
    hub = new StubHub();
    hub.limits.maxSendBufferBytes = 100;
    onRequest = (_req, res) => {
      const stream = new SseStream({ hub: hub as unknown as HubApi, client, res, format: valueFormatter(() => true) });
      for (let i = 0; i < 10; i++) hub.push(note(i, 'p', 'x'.repeat(20)));
      stream.start();
    };
    const res = await fetch(url);
    assert.equal(res.status, 503);
    assert.equal(hub.closed.length, 1);
  });
});

describe('SSE formatters', () => {
  test('named notifications carry the whole message; value streams just the data', () => {
    const n = note(9, 'p', { on: true });
    assert.deepEqual(namedNotificationFormatter()(n), { id: 9, event: 'observeproperty', data: JSON.stringify(n) });
    assert.deepEqual(valueFormatter(() => true)(n), { id: 9, data: '{"on":true}' });
    assert.equal(valueFormatter(() => false)(n), undefined);
    assert.equal(agentRequestFormatter(n), undefined);
    const request = {
      type: 'request' as const,
      operation: 'writeproperty' as const,
      thingId: 't',
      name: 'p',
      input: 1,
      actionId: 'a1',
      correlationId: 'a1',
      expiresAt: '',
    };
    assert.deepEqual(agentRequestFormatter(request), { id: 'a1', event: 'request', data: JSON.stringify(request) });
    assert.equal(namedNotificationFormatter()(request), undefined);
  });
});
