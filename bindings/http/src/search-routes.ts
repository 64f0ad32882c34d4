// TD search (W3C WoT Discovery §7.3.2.4): JSONPath (RFC 9535) at /search/jsonpath and SPARQL 1.1
// at /search/sparql, over the twin TDs the client may see, run off the event loop in a worker.

import type { IncomingMessage } from 'node:http';
import { badRequest, payloadTooLarge } from '@twinhub/core';
import { HttpError, readBody, sendProblem, unsupportedMediaType } from './http-io.js';
import { header, type BindingDeps, type HttpRouter, type RouteContext } from './route.js';
import { MAX_QUERY_CHARS, type SearchLanguage } from './search/protocol.js';
import { SearchEngine } from './search/search-engine.js';

const SPARQL_QUERY = 'application/sparql-query';
const FORM = 'application/x-www-form-urlencoded';

export interface SearchRoutes {
  /** Ends the search worker (binding close). */
  close(): Promise<void>;
}

function checkLength(query: string, tooLong: (detail: string) => Error): string {
  if (query.length > MAX_QUERY_CHARS) throw tooLong(`the query is ${query.length} characters; the limit is ${MAX_QUERY_CHARS}`);
  if (query.trim().length === 0) throw badRequest('the query is empty');
  return query;
}

const uriTooLong = (detail: string) => new HttpError(414, 'URI Too Long', detail);

/** `?query=` of a GET: required, and at most MAX_QUERY_CHARS long (414 past it). */
function queryParam(url: URL): string {
  const query = url.searchParams.get('query');
  if (query === null) throw badRequest('send the query as ?query=<url-encoded query>');
  return checkLength(query, uriTooLong);
}

/**
 * The SPARQL 1.1 Protocol's two POST forms (§2.1.2, §2.1.3): the query as the body
 * (application/sparql-query) or as `query=` in a form.
 */
async function postedQuery(req: IncomingMessage): Promise<string> {
  const type = header(req, 'content-type')?.split(';')[0].trim().toLowerCase();
  if (type !== SPARQL_QUERY && type !== FORM) {
    throw unsupportedMediaType(`send the query as ${SPARQL_QUERY}, or as query=... in ${FORM}`, { Accept: `${SPARQL_QUERY}, ${FORM}` });
  }
  // UTF-8 takes at most 4 bytes a character, percent-encoding 9 (%XX%XX%XX%XX for 4 bytes).
  const body = (await readBody(req, MAX_QUERY_CHARS * (type === FORM ? 9 : 4))).toString('utf8');
  if (type === SPARQL_QUERY) return checkLength(body, payloadTooLarge);
  const form = new URLSearchParams(body);
  // [tdd-search-sparql-error] An update is no query: refused like one sent as a query.
  if (form.has('update')) throw badRequest('SPARQL updates are not accepted: search only reads; send query=');
  checkDataset(form);
  const query = form.get('query');
  if (query === null) throw badRequest(`send query=<url-encoded query> in the ${FORM} body`);
  return checkLength(query, payloadTooLarge);
}

/** The protocol's dataset parameters would name graphs outside the query text: not supported. */
function checkDataset(params: URLSearchParams): void {
  for (const name of ['default-graph-uri', 'named-graph-uri']) {
    if (params.has(name)) throw badRequest(`${name} is not supported; name graphs with FROM / FROM NAMED in the query`);
  }
}

export function registerSearchRoutes(router: HttpRouter, deps: BindingDeps): SearchRoutes {
  const engine = new SearchEngine({ hub: deps.hub, logger: deps.logger });

  async function answer(ctx: RouteContext, language: SearchLanguage, query: string): Promise<void> {
    const result = await engine.search(ctx.client, language, query, header(ctx.req, 'accept'));
    if (!result.ok) return sendProblem(ctx.res, result.problem);
    ctx.res.writeHead(200, { 'Content-Type': result.contentType, 'Content-Length': Buffer.byteLength(result.body) });
    ctx.res.end(result.body);
  }

  // JSONPath (RFC 9535) over the array of twin TDs the client may see: a JSON array of the values.
  router.add('GET', '/search/jsonpath', {
    handle: (ctx) => answer(ctx, 'jsonpath', queryParam(ctx.url)),
  });

  // [tdd-search-sparql-version] SPARQL 1.1 Protocol. [tdd-search-sparql-method-get] GET ?query=.
  router.add('GET', '/search/sparql', {
    handle: async (ctx) => {
      checkDataset(ctx.url.searchParams);
      return answer(ctx, 'sparql', queryParam(ctx.url));
    },
  });

  // [tdd-search-sparql-method-post] POST (optional in the spec; done).
  router.add('POST', '/search/sparql', {
    handle: async (ctx) => {
      checkDataset(ctx.url.searchParams);
      return answer(ctx, 'sparql', await postedQuery(ctx.req));
    },
  });

  return { close: () => engine.close() };
}
