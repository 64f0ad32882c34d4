// Agent routes: report property values, publish events, receive queued requests (SSE) and answer
// them. Ownership and validation are the core's; these routes only translate.

import { badRequest } from '@twinhub/core';
import { agentRequestFormatter } from '@twinhub/binding-sse';
import type { HubRequest } from '@twinhub/core';
import { parseIfMatch, readJsonBody, sendResult } from './http-io.js';
import { serveStream, type BindingDeps, type HttpRouter } from './route.js';

/** `If-Match: "<state version>"` makes a report conditional (412 when the state moved on). */
function conditional(request: HubRequest, ifVersion: number | undefined): HubRequest {
  return ifVersion === undefined ? request : { ...request, ifVersion };
}

export function registerAgentRoutes(router: HttpRouter, deps: BindingDeps): void {
  const { hub } = deps;
  const payload = () => ({ maxBytes: hub.limits.maxPayloadBytes });

  router.add('POST', '/agent/things/:id/properties', {
    async handle({ req, res, params, client }) {
      const ifVersion = parseIfMatch(req);
      const values = await readJsonBody(req, payload());
      if (typeof values !== 'object' || values === null || Array.isArray(values)) {
        throw badRequest('the body must be a JSON object of property values { "name": value }');
      }
      sendResult(res, await hub.handle(conditional({ operation: 'updateproperty', thingId: params.id, input: values }, ifVersion), { client }));
    },
  });

  router.add('PUT', '/agent/things/:id/properties/:name', {
    async handle({ req, res, params, client }) {
      const ifVersion = parseIfMatch(req);
      const value = await readJsonBody(req, payload());
      if (value === undefined) throw badRequest('the body must be the JSON value to report');
      sendResult(
        res,
        await hub.handle(conditional({ operation: 'updateproperty', thingId: params.id, name: params.name, input: value }, ifVersion), { client }),
      );
    },
  });

  // Start-up configuration: what the agent's Things should be set to (desired, else last reported).
  router.add('GET', '/agent/desired', {
    async handle({ res, client }) {
      sendResult(res, await hub.handle({ operation: 'readdesired' }, { client }));
    },
  });
  router.add('GET', '/agent/things/:id/desired', {
    async handle({ res, params, client }) {
      sendResult(res, await hub.handle({ operation: 'readdesired', thingId: params.id }, { client }));
    },
  });

  router.add('POST', '/agent/things/:id/events/:name', {
    async handle({ req, res, params, client }) {
      const data = await readJsonBody(req, payload());
      sendResult(res, await hub.handle({ operation: 'publishevent', thingId: params.id, name: params.name, input: data }, { client }));
    },
  });

  // Queued requests are redelivered by the core until acknowledged, so the stream does not
  // resume from Last-Event-ID (its ids are action ids, not notification numbers).
  router.add('GET', '/agent/requests', {
    sse: true,
    async handle(ctx) {
      await serveStream(ctx, deps, { format: agentRequestFormatter, subscribe: [{ operation: 'subscriberequests' }], resumable: false });
    },
  });

  router.add('POST', '/agent/requests/:actionId', {
    async handle({ req, res, params, client }) {
      const report = await readJsonBody(req, payload());
      if (typeof report !== 'object' || report === null || Array.isArray(report)) {
        throw badRequest('the body must be a status report { "status": "running" | "completed" | "failed", "output"?, "error"?, "progress"? }');
      }
      sendResult(res, await hub.handle({ operation: 'updateactionstatus', actionId: params.actionId, input: report }, { client }));
    },
  });
}
