// The HTTP API as an OpenAPI 3.1 document, generated from the router's table (served at
// /openapi.json): paths, methods, path parameters and security come from the routes themselves;
// the one-line descriptions below are checked against the table by a test, so neither can drift.

import type { HttpRouter } from './route.js';

interface Description {
  summary: string;
  tag: 'directory' | 'properties' | 'actions' | 'events' | 'agents' | 'admin' | 'hub' | 'jobs' | 'history';
}

/** Every route's description, keyed "METHOD /pattern" as registered. */
export const ROUTE_DESCRIPTIONS: Readonly<Record<string, Description>> = {
  'GET /session': {
    summary: 'The WebSocket envelope over HTTP, receiving half: an SSE stream of everything pushed to one hub session (?key=<random id>)',
    tag: 'hub',
  },
  'POST /session/:key': {
    summary: 'The WebSocket envelope over HTTP, sending half: one request envelope run in that session; its response envelope',
    tag: 'hub',
  },
  'GET /.well-known/wot': { summary: "The directory's own TD (WoT Discovery well-known URI): Things API, notifications, search", tag: 'directory' },
  'GET /health': { summary: 'Liveness: the hub answers (same as /health/live)', tag: 'hub' },
  'GET /health/live': { summary: 'Liveness: the process is up', tag: 'hub' },
  'GET /health/ready': { summary: 'Readiness: the store takes writes and every binding listens (503 names the part that does not)', tag: 'hub' },
  'POST /admin/clients': { summary: 'Create a client with a role (admin)', tag: 'admin' },
  'GET /admin/clients': { summary: 'List clients and their roles (admin)', tag: 'admin' },
  'DELETE /admin/clients/:id': { summary: 'Delete a client, revoking its tokens and ending its sessions (admin)', tag: 'admin' },
  'POST /admin/clients/:id/tokens': { summary: 'Issue a token for a client; the secret is in this answer only (admin)', tag: 'admin' },
  'GET /admin/clients/:id/tokens': { summary: "List a client's tokens, never their secrets (admin)", tag: 'admin' },
  'DELETE /admin/clients/:id/tokens': { summary: "Revoke all of a client's tokens, ending its sessions (admin)", tag: 'admin' },
  'GET /admin/tokens': { summary: 'List every token, never their secrets (admin)', tag: 'admin' },
  'DELETE /admin/tokens/:tokenId': { summary: 'Revoke one token (admin)', tag: 'admin' },
  'GET /agent/desired': {
    summary: "Start-up configuration of the agent's Things: per writable property the desired, else the last reported value",
    tag: 'agents',
  },
  'GET /agent/things/:id/desired': { summary: "Start-up configuration of one of the agent's Things", tag: 'agents' },
  'GET /agents': { summary: 'Agents the client may see, with presence and the Things they own, paged', tag: 'agents' },
  'GET /agents/:id': { summary: "One agent's presence and Things", tag: 'agents' },
  'GET /': { summary: 'Entry points of the API', tag: 'hub' },
  'GET /openapi.json': { summary: 'This API as an OpenAPI 3.1 document', tag: 'hub' },
  'GET /me': { summary: "Who the token belongs to: the client's id and role", tag: 'hub' },
  'GET /ui': { summary: 'The web dashboard (no token: its API calls need one); redirects to /ui/', tag: 'hub' },
  'GET /ui/:file': { summary: "A file of the web dashboard, or its index.html for the app's own routes", tag: 'hub' },
  'GET /ui/:dir/:file': { summary: "A file of the web dashboard (assets/…), or its index.html for the app's own routes", tag: 'hub' },
  'GET /ui/:dir/:subdir/:file': { summary: "A file of the web dashboard, or its index.html for the app's own routes", tag: 'hub' },
  'GET /search/jsonpath': { summary: 'Search the twin TDs the client may see with a JSONPath query (RFC 9535): the matched values', tag: 'directory' },
  'GET /search/sparql': {
    summary: 'Search the twin TDs as RDF with a SPARQL 1.1 query (?query=): SELECT/ASK results JSON, CONSTRUCT/DESCRIBE JSON-LD',
    tag: 'directory',
  },
  'POST /search/sparql': { summary: 'SPARQL 1.1 search with the query as application/sparql-query or a query= form', tag: 'directory' },
  'GET /things': {
    summary:
      'List twin TDs (WoT Discovery Things API): filters (agent, @type, title, tag, query= an RFC 9535 filter), sort_by/sort_order, offset or cursor paging',
    tag: 'directory',
  },
  'POST /things': { summary: 'Register a TD without an id (anonymous TD): the hub assigns one', tag: 'directory' },
  'GET /things/:id': { summary: 'Retrieve the twin TD of a Thing', tag: 'directory' },
  'PUT /things/:id': { summary: 'Create or replace a TD (agent)', tag: 'directory' },
  'PATCH /things/:id': { summary: 'Merge-patch a TD (RFC 7396, agent)', tag: 'directory' },
  'DELETE /things/:id': { summary: 'Delete a TD and what the hub keeps of it (agent)', tag: 'directory' },
  'GET /events': { summary: 'Directory notifications (thing_created, thing_updated, thing_deleted) as SSE', tag: 'directory' },
  'GET /events/:kind': { summary: 'One kind of directory notification as SSE', tag: 'directory' },
  'GET /things/:id/twin': { summary: 'Twin metadata: owner, versions, tags', tag: 'directory' },
  'PUT /things/:id/tags': { summary: 'Replace the tags of a twin', tag: 'directory' },
  'GET /things/:id/state': { summary: 'Reported values, desired values of open writes, latest events, state version', tag: 'properties' },
  'GET /things/:id/properties': { summary: 'Read all (or ?name= several) reported property values', tag: 'properties' },
  'GET /things/:id/properties/:name': { summary: 'Read a reported property value', tag: 'properties' },
  'PUT /things/:id/properties/:name': { summary: 'Write a property: queued for the agent (202 + Location)', tag: 'properties' },
  'GET /things/:id/properties/:name/observe': { summary: 'Observe a property as SSE', tag: 'properties' },
  'GET /things/:id/properties/observe': { summary: 'Observe all properties of a Thing as SSE', tag: 'properties' },
  'HEAD /things/:id/properties/:name/longpoll': { summary: 'Long-poll handshake for a property', tag: 'properties' },
  'GET /things/:id/properties/:name/longpoll': { summary: 'Long-poll the next value of a property', tag: 'properties' },
  'GET /things/:id/properties/:name/writes/:actionId': { summary: 'Query a queued property write', tag: 'properties' },
  'DELETE /things/:id/properties/:name/writes/:actionId': { summary: 'Cancel a property write not yet delivered', tag: 'properties' },
  'POST /things/:id/actions/:name': { summary: 'Invoke an action: queued for the agent (201 + Location; Prefer: wait=N waits)', tag: 'actions' },
  'GET /things/:id/actions': { summary: 'Query the requests of a Thing, paged (offset, limit)', tag: 'actions' },
  'GET /things/:id/actions/:name/:actionId': { summary: 'Query an action request', tag: 'actions' },
  'DELETE /things/:id/actions/:name/:actionId': { summary: 'Cancel an action request not yet delivered', tag: 'actions' },
  'GET /things/:id/events/:name': { summary: 'Subscribe to an event as SSE', tag: 'events' },
  'GET /things/:id/events': { summary: 'Subscribe to all events of a Thing as SSE', tag: 'events' },
  'HEAD /things/:id/events/:name/longpoll': { summary: 'Long-poll handshake for an event', tag: 'events' },
  'GET /things/:id/events/:name/longpoll': { summary: 'Long-poll the next occurrence of an event', tag: 'events' },
  'GET /stream': { summary: 'One SSE stream of everything the client may see', tag: 'events' },
  'POST /agent/things/:id/properties': { summary: 'Report several property values at once (agent)', tag: 'agents' },
  'PUT /agent/things/:id/properties/:name': { summary: 'Report a property value (agent)', tag: 'agents' },
  'POST /agent/things/:id/events/:name': { summary: 'Publish an event (agent)', tag: 'agents' },
  'GET /agent/requests': { summary: "The agent's queued requests as SSE, redelivered until acknowledged", tag: 'agents' },
  'POST /agent/requests/:actionId': { summary: 'Report the status of a request: running, completed or failed (agent)', tag: 'agents' },
  'POST /jobs': { summary: 'Create a fleet job: one property write or action invocation queued for every Thing a query matches (201 + Location)', tag: 'jobs' },
  'GET /jobs': { summary: 'List fleet jobs, oldest first, paged (offset, limit)', tag: 'jobs' },
  'GET /jobs/:id': { summary: 'A fleet job: its status and counts (matched, queued, refused, and its requests by status)', tag: 'jobs' },
  'POST /jobs/:id/cancel': { summary: 'Cancel a fleet job: stops queuing and cancels its requests not yet delivered', tag: 'jobs' },
  // History (docs/history.md)
  'GET /things/:id/properties/:name/history': {
    summary: 'Recorded values of a property: from, to, limit, cursor, order (newest|oldest); every + agg (min,max,avg,first,last,count) aggregate',
    tag: 'history',
  },
  'GET /things/:id/events/:name/history': { summary: 'Recorded occurrences of an event (same parameters as a property history)', tag: 'history' },
  'GET /things/:id/history-policy': { summary: "A Thing's history policy and the effective one per property and event (admin)", tag: 'history' },
  'PUT /things/:id/history-policy': { summary: "Replace a Thing's history policy: recording, delta sampling, retention (admin)", tag: 'history' },
};

const PROBLEM = { $ref: '#/components/schemas/Problem' };

/** The OpenAPI 3.1 document of the routes registered on `router`. */
export function openApiDocument(router: HttpRouter, baseUrl: string, version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const { method, pattern, route } of router.list()) {
    const description = ROUTE_DESCRIPTIONS[`${method} ${pattern}`];
    const path = pattern.replace(/:([A-Za-z]+)/g, '{$1}');
    const parameters: unknown[] = [...pattern.matchAll(/:([A-Za-z]+)/g)].map(([, name]) => ({ name, in: 'path', required: true, schema: { type: 'string' } }));
    // [WHATWG HTML §9.2] EventSource cannot send headers: streams also take the token as a query parameter.
    if (route.sse) parameters.push({ name: 'access_token', in: 'query', required: false, schema: { type: 'string' } });
    const success = route.sse
      ? { '200': { description: 'An event stream', content: { 'text/event-stream': {} } } }
      : { '2XX': { description: 'Success', content: { 'application/json': {} } } };
    paths[path] ??= {};
    paths[path][method.toLowerCase()] = {
      operationId: `${method.toLowerCase()}${path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      summary: description?.summary ?? pattern,
      tags: [description?.tag ?? 'hub'],
      ...(parameters.length > 0 ? { parameters } : {}),
      security: route.public ? [] : [{ bearer: [] }],
      responses: { ...success, default: { description: 'An RFC 9457 problem', content: { 'application/problem+json': { schema: PROBLEM } } } },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'twinhub', version, description: 'A W3C Web of Things hub keeping a digital twin of every device.' },
    servers: [{ url: baseUrl }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Problem: {
          type: 'object',
          description: 'RFC 9457 problem details',
          required: ['status', 'title', 'detail'],
          properties: { type: { type: 'string' }, status: { type: 'integer' }, title: { type: 'string' }, detail: { type: 'string' } },
        },
      },
    },
  };
}
