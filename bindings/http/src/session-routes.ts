// The envelope over plain HTTP, for clients that cannot open a WebSocket (a browser behind a proxy
// that refuses upgrades): `GET /session?key=K` is an SSE stream bound to one hub session, carrying
// everything the core pushes to it; `POST /session/K` runs one request envelope in that session and
// answers with its response envelope. Together they are the WebSocket binding's duplex, as halves.

import { checkRequestMessage, envelopeLimitBytes, notFound, toResponseMessage, type Client, type OutboundMessage } from '@twinhub/core';
import { SSE_HEADERS, SseStream, type SseFormatter } from '@twinhub/binding-sse';
import { readJsonBody, sendJson, sendProblem } from './http-io.js';
import { header, type BindingDeps, type HttpRouter } from './route.js';

/** Session keys are chosen by the client (a random UUID); this only keeps them sane. */
const KEY = /^[A-Za-z0-9_-]{16,128}$/;

/** Every pushed message as is: `event: message`, `id:` = the notification seq when there is one. */
const envelopeFormatter: SseFormatter = (message: OutboundMessage) => ({
  ...(message.type === 'notification' ? { id: message.seq } : {}),
  event: 'message',
  data: JSON.stringify(message),
});

export function registerSessionRoutes(router: HttpRouter, deps: BindingDeps): void {
  const { hub } = deps;
  /** Open envelope sessions by client id and key: only their client may post into them. */
  const streams = new Map<string, SseStream>();
  const keyOf = (client: Client, key: string) => `${client.id}\u0000${key}`;

  router.add('GET', '/session', {
    sse: true,
    async handle({ req, res, url, client }) {
      const key = url.searchParams.get('key') ?? '';
      if (!KEY.test(key))
        return sendProblem(res, { status: 400, title: 'Bad Request', detail: 'send ?key=<a random id of 16-128 letters, digits, - or _> naming the session' });
      // [tdd-http-head]-style probe: a client learns whether its token is good before EventSource,
      // which cannot read a refusal's status.
      if (req.method === 'HEAD') {
        res.writeHead(200, SSE_HEADERS);
        res.end();
        return;
      }
      const id = keyOf(client, key);
      if (streams.has(id)) return sendProblem(res, { status: 409, title: 'Conflict', detail: `session '${key}' is already open; choose a new key` });
      const stream = new SseStream({
        hub,
        client,
        res,
        format: envelopeFormatter,
        logger: deps.logger,
        heartbeatSeconds: deps.heartbeatSeconds,
        observer: deps.observer,
        binding: 'http-session',
      });
      streams.set(id, stream);
      res.once('close', () => {
        if (streams.get(id) === stream) streams.delete(id);
      });
      stream.start({ lastEventId: header(req, 'last-event-id') });
    },
  });

  router.add('POST', '/session/:key', {
    async handle({ req, res, params, client }) {
      const stream = streams.get(keyOf(client, params.key));
      if (!stream || stream.closed) throw notFound(`no open session '${params.key}' of client '${client.id}': open GET /session?key=… first`);
      const request = checkRequestMessage(await readJsonBody(req, { maxBytes: envelopeLimitBytes(hub.limits) }));
      const result = await hub.handle(request, { client, session: stream.session });
      sendJson(res, 200, toResponseMessage(request, result));
    },
  });
}
