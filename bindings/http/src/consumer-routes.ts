// Consumer routes: read/write/observe properties, invoke/query/cancel actions, subscribe to
// events, plus the twin extensions (state, twin metadata, tags) and the all-Things stream.

import { badRequest, type RequestRecord, type HubRequest, type NotificationMessage, type Problem } from '@twinhub/core';
import { namedNotificationFormatter, valueFormatter } from '@twinhub/binding-sse';
import { intParam, parseIfMatch, preferredWait, readJsonBody, sendJson, sendProblem, sendResult } from './http-io.js';
import { answerLongPoll, answerLongPollHandshake, type LongPollOptions } from './long-poll.js';
import { enc, serveStream, thingUrl, type BindingDeps, type HttpRouter, type RouteContext } from './route.js';

const isRecord = (output: unknown): output is RequestRecord =>
  typeof output === 'object' && output !== null && typeof (output as Record<string, unknown>).actionId === 'string';

export function registerConsumerRoutes(router: HttpRouter, deps: BindingDeps): void {
  const { hub } = deps;
  const payload = () => ({ maxBytes: hub.limits.maxPayloadBytes });

  /** A queued request's `?ttl=` seconds. */
  const withTtl = (request: HubRequest, url: URL): HubRequest => {
    const ttl = intParam(url, 'ttl');
    if (ttl !== undefined) request.ttl = ttl;
    return request;
  };

  // --- properties -------------------------------------------------------------------------
  router.add('GET', '/things/:id/properties', {
    async handle({ res, url, params, client }) {
      const names = url.searchParams.getAll('name');
      const request: HubRequest =
        names.length > 0 ? { operation: 'readmultipleproperties', thingId: params.id, names } : { operation: 'readallproperties', thingId: params.id };
      sendResult(res, await hub.handle(request, { client }));
    },
  });

  router.add('GET', '/things/:id/properties/:name', {
    async handle({ res, params, client }) {
      const result = await hub.handle({ operation: 'readproperty', thingId: params.id, name: params.name }, { client });
      // A property value may legitimately be null or absent (never reported): always send JSON.
      if (result.ok) return sendJson(res, 200, result.output ?? null, result.timestamp ? { 'Last-Modified': new Date(result.timestamp).toUTCString() } : {});
      sendProblem(res, result.problem);
    },
  });

  router.add('PUT', '/things/:id/properties/:name', {
    async handle({ req, res, url, params, client }) {
      const ifVersion = parseIfMatch(req);
      const value = await readJsonBody(req, payload());
      if (value === undefined) throw badRequest('the body must be the JSON value to write');
      const request = withTtl({ operation: 'writeproperty', thingId: params.id, name: params.name, input: value }, url);
      if (ifVersion !== undefined) request.ifVersion = ifVersion;
      const result = await hub.handle(request, { client });
      if (result.ok && isRecord(result.output)) {
        const location = `${thingUrl(deps, params.id)}/properties/${enc(params.name)}/writes/${enc(result.output.actionId)}`;
        return sendResult(res, result, { status: 202, headers: { Location: location } });
      }
      sendResult(res, result);
    },
  });

  const propertyStream = async (ctx: RouteContext) => {
    const { id, name } = ctx.params;
    await serveStream(ctx, deps, {
      format: valueFormatter((m) => m.operation === 'observeproperty' && m.thingId === id && m.name === name),
      subscribe: [{ operation: 'observeproperty', thingId: id, name }],
    });
  };
  router.add('GET', '/things/:id/properties/:name/observe', { sse: true, handle: propertyStream });

  // Long polling (node-wot's default subprotocol): HEAD is the handshake, each GET the next value.
  const longPoll = (path: string, options: (params: Record<string, string>) => LongPollOptions) => {
    router.add('HEAD', path, { handle: (ctx) => answerLongPollHandshake(ctx, deps, options(ctx.params)) });
    router.add('GET', path, { handle: (ctx) => answerLongPoll(ctx, deps, options(ctx.params)) });
  };
  longPoll('/things/:id/properties/:name/longpoll', ({ id, name }) => ({
    subscribe: { operation: 'observeproperty', thingId: id, name },
    accept: (m) => m.operation === 'observeproperty' && m.thingId === id && m.name === name,
  }));
  longPoll('/things/:id/events/:name/longpoll', ({ id, name }) => ({
    subscribe: { operation: 'subscribeevent', thingId: id, name },
    accept: (m) => m.operation === 'subscribeevent' && m.thingId === id && m.name === name,
  }));

  router.add('GET', '/things/:id/properties/observe', {
    sse: true,
    async handle(ctx) {
      const { id } = ctx.params;
      await serveStream(ctx, deps, {
        format: namedNotificationFormatter((m) => m.operation === 'observeproperty' && m.thingId === id),
        subscribe: [{ operation: 'observeallproperties', thingId: id }],
      });
    },
  });

  const requestRoute = (operation: 'queryaction' | 'cancelaction') => ({
    async handle({ res, params, client }: RouteContext) {
      const result = await hub.handle({ operation, thingId: params.id, name: params.name, actionId: params.actionId }, { client });
      sendResult(res, result);
    },
  });
  router.add('GET', '/things/:id/properties/:name/writes/:actionId', requestRoute('queryaction'));
  router.add('DELETE', '/things/:id/properties/:name/writes/:actionId', requestRoute('cancelaction'));

  // --- actions ----------------------------------------------------------------------------
  router.add('POST', '/things/:id/actions/:name', {
    async handle({ req, res, url, params, client }) {
      const input = await readJsonBody(req, payload());
      const request = withTtl({ operation: 'invokeaction', thingId: params.id, name: params.name }, url);
      if (input !== undefined) request.input = input;
      const wait = preferredWait(req);
      const result = await hub.handle(request, { client });
      if (!result.ok || !isRecord(result.output)) return sendResult(res, result);
      const location = `${thingUrl(deps, params.id)}/actions/${enc(params.name)}/${enc(result.output.actionId)}`;
      if (wait === undefined || wait === 0) return sendResult(res, result, { status: 201, headers: { Location: location } });
      const seconds = Math.min(wait, deps.syncActionMaxWaitSeconds);
      const record = (await hub.awaitRequest(result.output.actionId, seconds * 1000)) ?? result.output;
      const applied = { 'Preference-Applied': `wait=${seconds}`, 'Content-Location': location };
      switch (record.status) {
        case 'completed':
          return sendJson(res, record.output === undefined ? 204 : 200, record.output, applied);
        case 'failed': {
          // RFC 9457 extension member: which request failed, to query it later.
          const problem: Problem & { actionId: string } = {
            status: 502,
            title: record.error?.title ?? 'Action Failed',
            detail: record.error?.detail ?? `the agent reported that action ${params.name} failed`,
            actionId: record.actionId,
          };
          return sendProblem(res, problem, applied);
        }
        case 'expired':
          return sendProblem(
            res,
            { status: 504, title: 'Gateway Timeout', detail: `the request expired before the agent handled it (action ${record.actionId})` },
            applied,
          );
        case 'cancelled':
          return sendProblem(res, { status: 409, title: 'Conflict', detail: `the request was cancelled (action ${record.actionId})` }, applied);
        default:
          // Not ended in time: fall back to the asynchronous answer with the latest record.
          return sendJson(res, 201, record, { Location: location });
      }
    },
  });

  router.add('GET', '/things/:id/actions', {
    async handle({ res, params, client }) {
      sendResult(res, await hub.handle({ operation: 'queryallactions', thingId: params.id }, { client }));
    },
  });
  router.add('GET', '/things/:id/actions/:name/:actionId', requestRoute('queryaction'));
  router.add('DELETE', '/things/:id/actions/:name/:actionId', requestRoute('cancelaction'));

  // --- events -----------------------------------------------------------------------------
  router.add('GET', '/things/:id/events/:name', {
    sse: true,
    async handle(ctx) {
      const { id, name } = ctx.params;
      await serveStream(ctx, deps, {
        format: valueFormatter((m) => m.operation === 'subscribeevent' && m.thingId === id && m.name === name),
        subscribe: [{ operation: 'subscribeevent', thingId: id, name }],
      });
    },
  });

  router.add('GET', '/things/:id/events', {
    sse: true,
    async handle(ctx) {
      const { id } = ctx.params;
      await serveStream(ctx, deps, {
        format: namedNotificationFormatter((m) => m.operation === 'subscribeevent' && m.thingId === id),
        subscribe: [{ operation: 'subscribeallevents', thingId: id }],
      });
    },
  });

  // Everything the client may see: all properties and events of all Things, and its own requests.
  const streamOperations = new Set<NotificationMessage['operation']>(['observeproperty', 'subscribeevent', 'actionstatus']);
  router.add('GET', '/stream', {
    sse: true,
    async handle(ctx) {
      await serveStream(ctx, deps, {
        format: namedNotificationFormatter((m) => streamOperations.has(m.operation)),
        subscribe: [{ operation: 'observeallproperties' }, { operation: 'subscribeallevents' }],
      });
    },
  });

  // --- twin extensions --------------------------------------------------------------------
  router.add('GET', '/things/:id/state', {
    async handle({ res, params, client }) {
      sendResult(res, await hub.handle({ operation: 'readstate', thingId: params.id }, { client }));
    },
  });
  router.add('GET', '/things/:id/twin', {
    async handle({ res, params, client }) {
      sendResult(res, await hub.handle({ operation: 'readtwin', thingId: params.id }, { client }));
    },
  });
  router.add('PUT', '/things/:id/tags', {
    async handle({ req, res, params, client }) {
      const tags = await readJsonBody(req, payload());
      if (typeof tags !== 'object' || tags === null || Array.isArray(tags)) throw badRequest('the body must be a JSON object of tags { "key": "value" }');
      sendResult(res, await hub.handle({ operation: 'updatetags', thingId: params.id, input: tags }, { client }));
    },
  });
}
