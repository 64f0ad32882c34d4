// History routes: GET …/properties/{name}/history and …/events/{name}/history (core operations
// readpropertyhistory, readeventhistory; query parameters from, to, limit, cursor, order, every,
// agg), and the admin's per-Thing policy at /things/{id}/history-policy.

import type { HubRequest, TwinQuery } from '@twinhub/core';
import { intParam, readJsonBody, sendResult } from './http-io.js';
import { enc, thingUrl, type BindingDeps, type HttpRouter, type RouteContext } from './route.js';

const STRING_PARAMS = ['from', 'to', 'cursor', 'order', 'every', 'agg'] as const;

/** The history query of a URL; the core checks every value (a repeated parameter: its first value). */
function historyQuery(url: URL): TwinQuery {
  const query: TwinQuery = {};
  for (const name of STRING_PARAMS) {
    const value = url.searchParams.get(name);
    if (value !== null) (query as Record<string, unknown>)[name] = value;
  }
  const limit = intParam(url, 'limit');
  if (limit !== undefined) query.limit = limit;
  return query;
}

export function registerHistoryRoutes(router: HttpRouter, deps: BindingDeps): void {
  const { hub } = deps;

  const history = (operation: 'readpropertyhistory' | 'readeventhistory', section: 'properties' | 'events') => ({
    async handle({ res, url, params, client }: RouteContext) {
      const query = historyQuery(url);
      const result = await hub.handle({ operation, thingId: params.id, name: params.name, query }, { client });
      // RFC 8288: the next page as a link too, for clients that follow links rather than read bodies.
      const next = result.ok ? (result.output as { next?: unknown } | undefined)?.next : undefined;
      if (typeof next !== 'string') return sendResult(res, result);
      const link = new URLSearchParams(url.searchParams);
      link.set('cursor', next);
      const href = `${thingUrl(deps, params.id)}/${section}/${enc(params.name)}/history?${link.toString()}`;
      sendResult(res, result, { headers: { Link: `<${href}>; rel="next"` } });
    },
  });
  router.add('GET', '/things/:id/properties/:name/history', history('readpropertyhistory', 'properties'));
  router.add('GET', '/things/:id/events/:name/history', history('readeventhistory', 'events'));

  router.add('GET', '/things/:id/history-policy', {
    async handle({ res, params, client }) {
      sendResult(res, await hub.handle({ operation: 'readhistorypolicy', thingId: params.id }, { client }));
    },
  });
  router.add('PUT', '/things/:id/history-policy', {
    async handle({ req, res, params, client }) {
      const request: HubRequest = {
        operation: 'updatehistorypolicy',
        thingId: params.id,
        input: await readJsonBody(req, { maxBytes: hub.limits.maxPayloadBytes }),
      };
      sendResult(res, await hub.handle(request, { client }));
    },
  });
}
