// The W3C WoT Discovery "Things API": list, retrieve, create, replace, patch and delete TDs, and
// the directory's SSE notifications.

import { badRequest, DISCOVERY_CONTEXT, type HubRequest, type HubSuccess, type TwinQuery } from '@twinhub/core';
import { directoryFormatter } from '@twinhub/binding-sse';
import { intParam, parseIfMatch, readJsonBody, sendProblem, sendResult } from './http-io.js';
import { JsonCache } from './json-cache.js';
import { serveStream, thingUrl, type BindingDeps, type HttpRouter, type RouteContext } from './route.js';

const TD_TYPES = ['application/td+json', 'application/json', 'application/ld+json'];
const MERGE_PATCH = 'application/merge-patch+json';
const DIRECTORY_EVENTS = ['thing_created', 'thing_updated', 'thing_deleted', 'agent_connected', 'agent_disconnected'];

/** Query parameters that make a listing a query: its next link carries a cursor, not an offset. */
const QUERY_PARAMS = ['query', 'sort_by', 'sort_order', 'cursor'];

function listQuery(url: URL): TwinQuery {
  const query: TwinQuery = {};
  const offset = intParam(url, 'offset');
  const limit = intParam(url, 'limit');
  if (offset !== undefined) query.offset = offset;
  if (limit !== undefined) query.limit = limit;
  const agent = url.searchParams.get('agent');
  const type = url.searchParams.get('type') ?? url.searchParams.get('@type');
  const title = url.searchParams.get('title');
  if (agent) query.agent = agent;
  if (type) query.type = type;
  if (title) query.title = title;
  const security = url.searchParams.get('security');
  if (security) query.security = security;
  // Twin queries (docs/queries.md): an RFC 9535 filter expression, a sort, a cursor.
  const filter = url.searchParams.get('query');
  if (filter !== null) query.filter = filter;
  const cursor = url.searchParams.get('cursor');
  if (cursor !== null) query.cursor = cursor;
  const sortBy = url.searchParams.get('sort_by');
  const sortOrder = url.searchParams.get('sort_order');
  if (sortBy !== null || sortOrder !== null) {
    // [tdd-things-list-pagination-order] sort_by is a JSON Pointer (`/title`); the older plain field form (`title`) means the same.
    const by = sortBy === null || sortBy === '' ? '/id' : sortBy.startsWith('/') ? sortBy : `/${sortBy}`;
    // [tdd-things-list-pagination-orderable] An order other than asc/desc, or a field holding no basic value, is refused by the core (400).
    query.sort = { by, order: (sortOrder ?? 'asc') as 'asc' | 'desc' };
  }
  const tags = url.searchParams.getAll('tag');
  if (tags.length > 0) {
    query.tags = {};
    for (const tag of tags) {
      const colon = tag.indexOf(':');
      if (colon <= 0) throw badRequest(`tag filter must be key:value, got ${JSON.stringify(tag)}`);
      query.tags[tag.slice(0, colon)] = tag.slice(colon + 1);
    }
  }
  return query;
}

/** How a listing found its candidates (`X-Query-Plan`): kind, counts, and the indexes used (percent-encoded: tag values are any text). */
function planHeader(plan: NonNullable<HubSuccess['page']>['plan']): string {
  const indexes = plan.indexes.map(encodeURIComponent).join(',');
  return `kind=${plan.kind}; candidates=${plan.candidates}; evaluated=${plan.evaluated}${indexes ? `; indexes=${indexes}` : ''}`;
}

/** `?format=array` (the default) or `collection`; anything else is refused rather than ignored. */
function listFormat(url: URL): 'array' | 'collection' {
  const format = url.searchParams.get('format') ?? 'array';
  if (format === 'array' || format === 'collection') return format;
  throw badRequest(`query parameter "format" must be "array" (the default) or "collection", got ${JSON.stringify(format)}`);
}

/** `?diff=true` asks for merge patches in thing_updated events; `false` or absent: whole TDs. */
function diffParam(url: URL): boolean {
  const diff = url.searchParams.get('diff');
  if (diff === null || diff === 'false') return false;
  if (diff === 'true') return true;
  throw badRequest(`query parameter "diff" must be "true" or "false", got ${JSON.stringify(diff)}`);
}

/** The thing id in a create/replace result: a twin TD ({ id }) or a Twin ({ thingId }). */
function resultThingId(output: unknown): string | undefined {
  if (typeof output !== 'object' || output === null) return undefined;
  const record = output as Record<string, unknown>;
  if (typeof record.id === 'string') return record.id;
  if (typeof record.thingId === 'string') return record.thingId;
  return undefined;
}

function tdObject(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('the body must be a Thing Description (a JSON object)');
  return body as Record<string, unknown>;
}

/** Serialized twin TDs kept for reuse (a type query of 100 TDs is 640 KB of JSON per request). */
const TD_JSON_CACHE_BYTES = 16 * 1024 * 1024;

export function registerDirectoryRoutes(router: HttpRouter, deps: BindingDeps): void {
  const { hub } = deps;
  const maxTd = () => hub.limits.maxTdBytes;
  // TDs served with ?security= are new objects each time: serializing them through the cache
  // would only push the reusable ones out.
  const tdJson = new JsonCache(TD_JSON_CACHE_BYTES);

  router.add('GET', '/things', {
    async handle({ res, url, client }) {
      const format = listFormat(url);
      const query = listQuery(url);
      const result = await hub.handle({ operation: 'listTDs', query }, { client });
      if (!result.ok) return sendProblem(res, result.problem);
      const items = Array.isArray(result.output) ? result.output : [];
      const total = result.total;
      const offset = query.offset ?? 0;
      const base = deps.baseUrl();
      const page = result.page;
      let next: string | undefined;
      const byCursor = QUERY_PARAMS.some((name) => url.searchParams.has(name)) || total === undefined || page?.partial !== undefined;
      if (byCursor && page?.next !== undefined) {
        // [tdd-things-list-pagination-order-nextlink] The same arguments (sort_by and sort_order included), the cursor of the next page.
        const params = new URLSearchParams(url.searchParams);
        params.delete('offset');
        params.set('cursor', page.next);
        // The page size the hub chose, as offset links keep it; not from a page the scan limit cut short.
        if (query.limit === undefined && page.partial === undefined && items.length > 0) params.set('limit', String(items.length));
        next = `${base}/things?${params.toString()}`;
      } else if (!byCursor && total !== undefined && items.length > 0 && offset + items.length < total) {
        // [tdd-things-list-pagination-header-nextlink-attr] The same arguments, the same limit, the next offset.
        const params = new URLSearchParams(url.searchParams);
        params.set('offset', String(offset + items.length));
        if (query.limit === undefined) params.set('limit', String(items.length));
        next = `${base}/things?${params.toString()}`;
      }
      // [tdd-things-list-pagination-header-canonicallink] Every page names the collection and its state.
      const links = [`<${base}/things>; rel="canonical"; etag="${result.etag ?? ''}"`];
      if (next !== undefined) links.unshift(`<${next}>; rel="next"`);
      const headers: Record<string, string | string[]> = { Link: links };
      if (total !== undefined) headers['X-Total-Count'] = String(total);
      if (page !== undefined) headers['X-Query-Plan'] = planHeader(page.plan);
      // A query stopped by the scan limit says so: the next link continues where it stopped.
      if (page?.partial !== undefined) headers['X-Query-Partial'] = `evaluated=${page.partial.evaluated}; scan-limit=${page.partial.scanLimit}`;
      const array = query.security === undefined ? tdJson.list(items) : Buffer.from(JSON.stringify(items));
      if (format === 'array') return sendResult(res, result, { status: 200, json: array, headers, contentType: 'application/ld+json' });
      // [tdd-things-list-pagination-collection] The verbose payload: paging information around the TDs.
      const head = {
        '@context': DISCOVERY_CONTEXT,
        '@type': 'ThingCollection',
        ...(total !== undefined ? { total } : {}),
        '@id': `${base}/things${url.search}`,
        ...(next ? { next } : {}),
      };
      const json = Buffer.concat([Buffer.from(`${JSON.stringify(head).slice(0, -1)},"members":`), array, Buffer.from('}')]);
      sendResult(res, result, { status: 200, json, headers, contentType: 'application/ld+json' });
    },
  });

  router.add('POST', '/things', {
    async handle({ req, res, client }) {
      const td = tdObject(await readJsonBody(req, { maxBytes: maxTd(), types: TD_TYPES }));
      if (td.id !== undefined) throw badRequest('POST /things registers an anonymous TD (the hub assigns the id); use PUT /things/{id} for a TD with an id');
      const result = await hub.handle({ operation: 'updateTD', input: td }, { client });
      if (!result.ok) return sendProblem(res, result.problem);
      const id = resultThingId(result.output);
      sendResult(res, result, { status: 201, headers: id ? { Location: thingUrl(deps, id) } : {}, contentType: 'application/td+json' });
    },
  });

  router.add('GET', '/things/:id', {
    async handle({ res, url, params, client }) {
      const security = url.searchParams.get('security');
      const result = await hub.handle({ operation: 'retrieveTD', thingId: params.id, ...(security ? { query: { security } } : {}) }, { client });
      const json = result.ok && !security && typeof result.output === 'object' && result.output !== null ? tdJson.json(result.output) : undefined;
      sendResult(res, result, { contentType: 'application/td+json', ...(json !== undefined ? { json } : {}) });
    },
  });

  router.add('PUT', '/things/:id', {
    async handle({ req, res, params, client }) {
      const ifVersion = parseIfMatch(req);
      const td = tdObject(await readJsonBody(req, { maxBytes: maxTd(), types: TD_TYPES }));
      if (td.id === undefined) td.id = params.id;
      else if (td.id !== params.id) throw badRequest(`the TD id ${JSON.stringify(td.id)} differs from the id in the path ${JSON.stringify(params.id)}`);
      const request: HubRequest = { operation: 'updateTD', thingId: params.id, input: td };
      if (ifVersion !== undefined) request.ifVersion = ifVersion;
      const result = await hub.handle(request, { client });
      if (!result.ok) return sendProblem(res, result.problem);
      if (result.status === 201) sendResult(res, result, { status: 201, headers: { Location: thingUrl(deps, params.id) }, contentType: 'application/td+json' });
      else sendResult(res, result, { status: 204 });
    },
  });

  router.add('PATCH', '/things/:id', {
    async handle({ req, res, params, client }) {
      const ifVersion = parseIfMatch(req);
      const patch = tdObject(await readJsonBody(req, { maxBytes: maxTd(), types: [MERGE_PATCH] }));
      const request: HubRequest = { operation: 'patchTD', thingId: params.id, input: patch };
      if (ifVersion !== undefined) request.ifVersion = ifVersion;
      const result = await hub.handle(request, { client });
      sendResult(res, result, { status: 204 });
    },
  });

  router.add('DELETE', '/things/:id', {
    async handle({ req, res, params, client }) {
      const ifVersion = parseIfMatch(req);
      const request: HubRequest = { operation: 'deleteTD', thingId: params.id };
      if (ifVersion !== undefined) request.ifVersion = ifVersion;
      sendResult(res, await hub.handle(request, { client }), { status: 204 });
    },
  });

  const directoryStream = (kind?: string) => async (ctx: RouteContext) =>
    serveStream(ctx, deps, {
      format: directoryFormatter((message) => kind === undefined || message.operation === kind, diffParam(ctx.url)),
      subscribe: [{ operation: 'subscribedirectory' }],
    });

  router.add('GET', '/events', { sse: true, handle: directoryStream() });
  router.add('GET', '/events/:kind', {
    sse: true,
    async handle(ctx) {
      if (!DIRECTORY_EVENTS.includes(ctx.params.kind)) {
        return sendProblem(ctx.res, {
          status: 404,
          title: 'Not Found',
          detail: `no directory event ${JSON.stringify(ctx.params.kind)}; use one of ${DIRECTORY_EVENTS.join(', ')}`,
        });
      }
      return directoryStream(ctx.params.kind)(ctx);
    },
  });
}
