// W3C WoT Discovery (Recommendation 2023-12-05) conformance: one test per `tdd-*` assertion the hub
// claims, against one running hub over plain HTTP and SSE. docs/conformance.md maps every assertion
// id of the Recommendation to its test here (or says why it has none).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RunningHub } from '@twinhub/hub';
import { createTokens, startTestHub, tempDataDir, type Tokens } from './support.js';

type Json = Record<string, unknown>;
type Td = Json & { id: string; title: string; '@context': unknown; registration?: Json };
interface Answer {
  status: number;
  headers: Headers;
  bytes: Buffer;
  text: string;
  /** The body as JSON (throws on a body that is not). */
  json<T = Td>(): T;
}
interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

const DISCOVERY = 'https://www.w3.org/2022/wot/discovery';
const TD_CONTEXT = 'https://www.w3.org/2022/wot/td/v1.1';
const TD_PREFIX = 'PREFIX td: <https://www.w3.org/2019/wot/td#>';
const UUID_V4_URN = /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
// RFC 3339 §5.6 date-time (with the "T" and an offset, as XML Schema dateTime serializations have).
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;
const enc = encodeURIComponent;
const thing = (id: string) => `/things/${enc(id)}`;

/** A minimal valid TD 1.1; without `id` when `id` is undefined (an Anonymous TD). */
function tdOf(id: string | undefined, extra: Json = {}): Json {
  return {
    '@context': TD_CONTEXT,
    ...(id === undefined ? {} : { id }),
    title: 'Conformance lamp',
    description: 'a lamp',
    securityDefinitions: { nosec_sc: { scheme: 'nosec' } },
    security: 'nosec_sc',
    properties: { on: { type: 'boolean', forms: [{ href: 'on' }] } },
    ...extra,
  };
}

/** Unicode code point order (not UTF-16 code unit order, which differs past U+FFFF). */
function byCodePoint(a: string, b: string): number {
  const x = [...a].map((c) => c.codePointAt(0) ?? 0);
  const y = [...b].map((c) => c.codePointAt(0) ?? 0);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

/** The links of an RFC 8288 Link header by rel, with their parameters. */
function links(header: string | null): Map<string, { href: string; params: Record<string, string> }> {
  const found = new Map<string, { href: string; params: Record<string, string> }>();
  for (const match of (header ?? '').matchAll(/<([^>]*)>((?:\s*;\s*[\w-]+="[^"]*")*)/g)) {
    const params = Object.fromEntries([...match[2].matchAll(/([\w-]+)="([^"]*)"/g)].map((p) => [p[1], p[2]]));
    found.set(params.rel, { href: match[1], params });
  }
  return found;
}

async function until<T>(probe: () => T | undefined | Promise<T | undefined>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** An SSE stream read with fetch: events are parsed into `events` until `close()`. */
class EventStream {
  readonly events: SseEvent[] = [];
  private constructor(
    readonly response: Response,
    private readonly abort: AbortController,
  ) {}

  static async open(url: string, headers: Record<string, string>): Promise<EventStream> {
    const abort = new AbortController();
    const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
    const stream = new EventStream(response, abort);
    if (response.ok) void stream.pump();
    return stream;
  }

  private async pump(): Promise<void> {
    const reader = this.response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const fields = buffer.slice(0, end).split('\n');
          buffer = buffer.slice(end + 2);
          const event: SseEvent = { event: 'message', data: '' };
          const data: string[] = [];
          for (const line of fields) {
            const [, name, content] = /^([^:]*): ?(.*)$/.exec(line) ?? [];
            if (name === 'id') event.id = content;
            else if (name === 'event') event.event = content;
            else if (name === 'data') data.push(content);
          }
          if (data.length > 0) this.events.push({ ...event, data: data.join('\n') });
        }
      }
    } catch {
      // aborted by close()
    }
  }

  /** The first event matching, waiting at most 5 s for it. */
  find(match: (event: SseEvent) => boolean, what = 'a matching event'): Promise<SseEvent> {
    return until(() => this.events.find(match), what, 5_000);
  }

  close(): void {
    this.abort.abort();
  }
}

const about = (id: string) => (event: SseEvent) => (JSON.parse(event.data) as { id?: string }).id === id;

describe('WoT Discovery conformance (tdd-* assertions)', () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let running: RunningHub;
  let tokens: Tokens;
  const streams: EventStream[] = [];

  async function call(
    method: string,
    path: string,
    token: string | null,
    body?: unknown,
    type = 'application/td+json',
    headers: Record<string, string> = {},
  ): Promise<Answer> {
    const init: RequestInit = { method, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } };
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] = type;
    }
    const res = await fetch(path.startsWith('http') ? path : `${running.urls.http}${path}`, init);
    const bytes = Buffer.from(await res.arrayBuffer());
    const text = bytes.toString('utf8');
    return { status: res.status, headers: res.headers, bytes, text, json: <T>() => JSON.parse(text) as T };
  }
  const get = (path: string, token = tokens.viewer) => call('GET', path, token);
  const put = (id: string, td: Json, token = tokens.agent) => call('PUT', thing(id), token, td);
  const patch = (id: string, body: unknown, type = 'application/merge-patch+json') => call('PATCH', thing(id), tokens.agent, body, type);
  const del = (id: string, token = tokens.agent) => call('DELETE', thing(id), token);
  async function registered(id: string, extra: Json = {}, token = tokens.agent): Promise<Td> {
    const res = await put(id, tdOf(id, extra), token);
    assert.ok(res.status === 201 || res.status === 204, `PUT ${id}: ${res.status} ${res.text}`);
    return (await get(thing(id))).json();
  }
  async function events(path: string, headers: Record<string, string> = {}): Promise<EventStream> {
    const stream = await EventStream.open(`${running.urls.http}${path}`, { authorization: `Bearer ${tokens.viewer}`, ...headers });
    streams.push(stream);
    assert.equal(stream.response.status, 200);
    return stream;
  }
  const ids = (list: Td[]) => list.map((td) => td.id);

  before(async () => {
    data = await tempDataDir();
    running = await startTestHub(data.dir, { mqtt: false });
    tokens = await createTokens(running);
    for (const n of [1, 2, 3, 4, 5]) await registered(`urn:conf:list:${n}`, { '@type': 'Listed' });
  });
  after(async () => {
    for (const stream of streams) stream.close();
    await running.close();
    await data.remove();
  });

  describe('§7.3.1 HTTP API', () => {
    it('[tdd-http-head] accepts HEAD on every GET endpoint, headers only', async () => {
      await registered('urn:conf:head');
      const endpoints = [
        '/things',
        '/things?format=collection',
        thing('urn:conf:head'),
        `/search/jsonpath?query=${enc('$[*].id')}`,
        `/search/sparql?query=${enc('ASK {}')}`,
        '/events',
        '/events/thing_created',
        '/.well-known/wot',
        '/openapi.json',
      ];
      for (const path of endpoints) {
        const head = await call('HEAD', path, tokens.viewer);
        assert.equal(head.status, 200, `HEAD ${path}`);
        assert.equal(head.bytes.length, 0, `HEAD ${path} has no body`);
        // A GET of an SSE stream never ends: its HEAD must, with the stream's content type.
        const type = path.startsWith('/events') ? 'text/event-stream; charset=utf-8' : (await get(path)).headers.get('content-type');
        assert.equal(head.headers.get('content-type'), type, `HEAD ${path} has GET's content type`);
      }
      assert.equal((await call('HEAD', thing('urn:conf:missing'), tokens.viewer)).status, 404);
    });

    it('[tdd-http-error-response] carries 4xx errors as RFC 7807/9457 problem details', async () => {
      const answers = [
        await get(thing('urn:conf:missing')), // 404
        await call('GET', '/things', null), // 401
        await call('PUT', thing('urn:conf:forbidden'), tokens.viewer, tdOf('urn:conf:forbidden')), // 403
        await patch('urn:conf:list:1', { title: 'x' }, 'text/plain'), // 415
        await get('/things?limit=0'), // 400
      ];
      assert.deepEqual(
        answers.map((a) => a.status),
        [404, 401, 403, 415, 400],
      );
      for (const answer of answers) {
        assert.match(answer.headers.get('content-type') ?? '', /^application\/problem\+json/);
        const problem = answer.json<Json>();
        assert.equal(problem.status, answer.status);
        assert.equal(typeof problem.title, 'string');
        assert.equal(typeof problem.detail, 'string');
      }
    });

    it('[tdd-http-error-response-utf-8] encodes problem details in UTF-8', async () => {
      const id = 'urn:conf:grüße-☃-😀';
      const answer = await get(thing(id));
      assert.equal(answer.status, 404);
      assert.match(answer.headers.get('content-type') ?? '', /^application\/problem\+json(;\s*charset=utf-8)?$/i);
      assert.ok(answer.bytes.includes(Buffer.from(id, 'utf8')), 'the id appears UTF-8 encoded in the body');
      const detail = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(answer.bytes)).detail as string;
      assert.ok(detail.includes(id), detail);
    });

    it('[tdd-http-unsupported-feature] answers requests for features it lacks with HTTP errors', async () => {
      const federated = await get(`/search/sparql?query=${enc('SELECT * WHERE { SERVICE <http://example.com/sparql> { ?s ?p ?o } }')}`);
      assert.equal(federated.status, 501, federated.text);
      assert.match(federated.headers.get('content-type') ?? '', /^application\/problem\+json/);
      assert.equal((await get(`/search/xpath?query=${enc('//title')}`)).status, 404);
      assert.equal((await get('/things?format=xml')).status, 400);
    });
  });

  describe('§7.3.2.1 Things API: creation, retrieval, update, deletion', () => {
    it('[tdd-things-crud] creates, reads, updates and deletes individual TDs', async () => {
      const id = 'urn:conf:crud';
      assert.equal((await put(id, tdOf(id))).status, 201);
      assert.equal((await get(thing(id))).json().title, 'Conformance lamp');
      assert.equal((await put(id, tdOf(id, { title: 'Replaced' }))).status, 204);
      assert.equal((await patch(id, { title: 'Patched' })).status, 204);
      assert.equal((await get(thing(id))).json().title, 'Patched');
      assert.equal((await del(id)).status, 204);
      assert.equal((await get(thing(id))).status, 404);
    });

    it('[tdd-things-crudl] implements create, read, update, delete and list', async () => {
      const created = await call('POST', '/things', tokens.agent, tdOf(undefined, { title: 'CRUDL' }));
      assert.equal(created.status, 201);
      const id = created.json().id;
      assert.ok(ids((await get('/things?limit=1000')).json<Td[]>()).includes(id));
      assert.equal((await put(id, tdOf(id, { title: 'CRUDL 2' }))).status, 204);
      assert.equal((await get(thing(id))).json().title, 'CRUDL 2');
      assert.equal((await del(id)).status, 204);
      assert.ok(!ids((await get('/things?limit=1000')).json<Td[]>()).includes(id));
    });

    it('[tdd-things-read-only-auth] refuses create, update and delete to read-only clients', async () => {
      const id = 'urn:conf:list:1';
      for (const token of [tokens.viewer, tokens.operator]) {
        assert.equal((await call('POST', '/things', token, tdOf(undefined))).status, 403);
        assert.equal((await call('PUT', thing('urn:conf:ro-new'), token, tdOf('urn:conf:ro-new'))).status, 403);
        assert.equal((await call('PUT', thing(id), token, tdOf(id, { title: 'hijacked' }))).status, 403);
        assert.equal((await call('PATCH', thing(id), token, { title: 'hijacked' }, 'application/merge-patch+json')).status, 403);
        assert.equal((await call('DELETE', thing(id), token)).status, 403);
        assert.equal((await get(thing(id), token)).status, 200, 'reading is allowed');
      }
      assert.equal((await call('DELETE', thing(id), null)).status, 401);
      assert.equal((await get(thing('urn:conf:ro-new'))).status, 404);
      assert.equal((await get(thing(id))).json().title, 'Conformance lamp');
    });

    it('[tdd-things-default-representation] takes and gives JSON, with JSON-LD 1.1 contexts', async () => {
      const id = 'urn:conf:json';
      assert.equal((await call('PUT', thing(id), tokens.agent, tdOf(id), 'application/json')).status, 201);
      for (const path of [thing(id), '/things']) {
        const answer = await get(path);
        assert.match(answer.headers.get('content-type') ?? '', /^application\/(td|ld)\+json/);
        const body = answer.json<Td | Td[]>();
        for (const td of Array.isArray(body) ? body : [body]) assert.ok(Array.isArray(td['@context']) && td['@context'].includes(TD_CONTEXT), path);
      }
    });

    it('[tdd-things-create-known-vs-anonymous] handles a TD with an id apart from an Anonymous TD', async () => {
      assert.equal((await call('POST', '/things', tokens.agent, tdOf('urn:conf:has-id'))).status, 400, 'a TD with an id is not anonymous');
      assert.equal((await get(thing('urn:conf:has-id'))).status, 404);
      const anonymous = await call('POST', '/things', tokens.agent, tdOf(undefined));
      assert.equal(anonymous.status, 201);
      assert.match(anonymous.json().id, UUID_V4_URN);
      assert.equal((await put('urn:conf:known', tdOf('urn:conf:known'))).status, 201);
      assert.equal((await get(thing('urn:conf:known'))).json().id, 'urn:conf:known', 'a known id is kept');
    });

    it('[tdd-things-create-known-td] registers a TD with an id by PUT /things/{id}', async () => {
      const id = 'urn:conf:known-td';
      assert.equal((await put(id, tdOf(id))).status, 201);
      assert.equal((await get(thing(id))).json().id, id);
      assert.equal((await put('urn:conf:other', tdOf(id))).status, 400, 'the path id must be the TD id');
    });

    it('[tdd-things-create-known-contenttype] accepts application/td+json on PUT', async () => {
      const id = 'urn:conf:known-type';
      assert.equal((await call('PUT', thing(id), tokens.agent, tdOf(id), 'application/td+json')).status, 201);
      assert.equal((await call('PUT', thing(`${id}-2`), tokens.agent, JSON.stringify(tdOf(`${id}-2`)), 'text/plain')).status, 415);
    });

    it('[tdd-things-create-known-td-resp] answers a creation by PUT with 201 Created', async () => {
      const id = 'urn:conf:known-resp';
      const created = await put(id, tdOf(id));
      assert.equal(created.status, 201);
      assert.equal(created.headers.get('location'), `${running.urls.http}${thing(id)}`);
    });

    it('[tdd-things-create-anonymous-td] registers an Anonymous TD by POST /things', async () => {
      const created = await call('POST', '/things', tokens.agent, tdOf(undefined, { title: 'Anonymous' }));
      assert.equal(created.status, 201, created.text);
      assert.equal((await call('GET', created.headers.get('location')!, tokens.viewer)).json().title, 'Anonymous');
    });

    it('[tdd-things-create-anonymous-contenttype] accepts application/td+json on POST', async () => {
      assert.equal((await call('POST', '/things', tokens.agent, tdOf(undefined), 'application/td+json')).status, 201);
      assert.equal((await call('POST', '/things', tokens.agent, JSON.stringify(tdOf(undefined)), 'text/plain')).status, 415);
    });

    it('[tdd-things-create-anonymous-id] assigns a local identifier to an Anonymous TD', async () => {
      const first = (await call('POST', '/things', tokens.agent, tdOf(undefined))).json().id;
      const second = (await call('POST', '/things', tokens.agent, tdOf(undefined))).json().id;
      assert.equal(typeof first, 'string');
      assert.notEqual(first, second);
      assert.equal((await get(thing(first))).json().id, first);
    });

    it('[tdd-things-create-anonymous-td-resp] answers 201 Created with the Location of the new TD', async () => {
      const created = await call('POST', '/things', tokens.agent, tdOf(undefined));
      assert.equal(created.status, 201);
      const location = created.headers.get('location') ?? '';
      assert.equal(location, `${running.urls.http}${thing(created.json().id)}`);
      assert.equal((await call('GET', location, tokens.viewer)).status, 200);
    });

    it('[tdd-things-retrieve] retrieves a TD by GET /things/{id}', async () => {
      assert.equal((await get(thing('urn:conf:list:2'))).json().id, 'urn:conf:list:2');
      assert.equal((await get(thing('urn:conf:never'))).status, 404);
    });

    it('[tdd-things-retrieve-resp] answers 200 with the requested TD', async () => {
      const answer = await get(thing('urn:conf:list:3'));
      assert.equal(answer.status, 200);
      const td = answer.json();
      assert.deepEqual([td.id, td.title, td['@type'], Object.keys(td.properties as Json)], ['urn:conf:list:3', 'Conformance lamp', 'Listed', ['on']]);
    });

    it('[tdd-things-retrieve-resp-content-type] serves a TD as application/td+json', async () => {
      assert.match((await get(thing('urn:conf:list:3'))).headers.get('content-type') ?? '', /^application\/td\+json/);
    });

    it('[tdd-things-update] replaces a TD by PUT /things/{id}', async () => {
      const id = 'urn:conf:update';
      await registered(id);
      assert.equal((await put(id, tdOf(id, { title: 'Replaced', description: undefined, properties: {} }))).status, 204);
      const td = (await get(thing(id))).json();
      assert.equal(td.title, 'Replaced');
      assert.equal(td.description, undefined, 'a replacement, not a merge');
      assert.deepEqual(td.properties, {});
    });

    it('[tdd-things-update-contenttype] accepts application/td+json on a replacing PUT', async () => {
      const id = 'urn:conf:update-type';
      await registered(id);
      assert.equal((await call('PUT', thing(id), tokens.agent, tdOf(id, { title: 'T' }), 'application/td+json')).status, 204);
      assert.equal((await call('PUT', thing(id), tokens.agent, JSON.stringify(tdOf(id)), 'text/plain')).status, 415);
    });

    it('[tdd-things-update-resp] answers a replacement with 204 No Content', async () => {
      const id = 'urn:conf:update-resp';
      await registered(id);
      const replaced = await put(id, tdOf(id, { title: 'Again' }));
      assert.equal(replaced.status, 204);
      assert.equal(replaced.bytes.length, 0);
    });

    it('[tdd-things-update-partial] modifies part of a TD by PATCH /things/{id}', async () => {
      const id = 'urn:conf:patch';
      await registered(id);
      assert.equal((await patch(id, { title: 'Patched' })).status, 204);
      const td = (await get(thing(id))).json();
      assert.deepEqual([td.title, td.description, Object.keys(td.properties as Json)], ['Patched', 'a lamp', ['on']]);
    });

    it('[tdd-things-update-partial-mergepatch] applies the patch as an RFC 7396 merge patch', async () => {
      const id = 'urn:conf:mergepatch';
      await registered(id, { properties: { on: { type: 'boolean', forms: [{ href: 'on' }] }, level: { type: 'integer', forms: [{ href: 'level' }] } } });
      const merge = { description: null, properties: { on: null, level: { minimum: 0 } }, tags: ['x'] };
      assert.equal((await patch(id, merge)).status, 204);
      const td = (await get(thing(id))).json();
      assert.equal(td.description, undefined, 'null removes a member');
      const properties = td.properties as Record<string, Json>;
      assert.deepEqual(Object.keys(properties), ['level']);
      assert.deepEqual([properties.level.type, properties.level.minimum], ['integer', 0], 'objects merge recursively');
      assert.deepEqual(td.tags, ['x'], 'arrays are replaced');
    });

    it('[tdd-things-update-partial-contenttype] requires application/merge-patch+json', async () => {
      const id = 'urn:conf:list:4';
      for (const type of ['application/json', 'application/td+json']) {
        const refused = await patch(id, { title: 'nope' }, type);
        assert.equal(refused.status, 415, type);
      }
      assert.equal((await get(thing(id))).json().title, 'Conformance lamp');
    });

    it('[tdd-things-update-partial-partialtd] refuses a patch that leaves an invalid TD', async () => {
      const id = 'urn:conf:partialtd';
      await registered(id);
      const refused = await patch(id, { title: 42, security: null });
      assert.equal(refused.status, 400, refused.text);
      assert.ok(Array.isArray(refused.json<Json>().validationErrors));
      assert.equal((await get(thing(id))).json().title, 'Conformance lamp', 'the stored TD is unchanged');
      assert.equal((await patch(id, ['not', 'a', 'partial', 'TD'])).status, 400);
    });

    it('[tdd-things-update-partial-resp] answers a patch with 204 No Content', async () => {
      const answer = await patch('urn:conf:list:5', { description: 'patched' });
      assert.equal(answer.status, 204);
      assert.equal(answer.bytes.length, 0);
    });

    it('[tdd-things-delete] deletes a TD by DELETE /things/{id}', async () => {
      const id = 'urn:conf:delete';
      await registered(id);
      await del(id);
      assert.equal((await get(thing(id))).status, 404);
      assert.ok(!ids((await get('/things?limit=1000')).json<Td[]>()).includes(id));
    });

    it('[tdd-things-delete-resp] answers a deletion with 204 No Content', async () => {
      const id = 'urn:conf:delete-resp';
      await registered(id);
      const deleted = await del(id);
      assert.equal(deleted.status, 204);
      assert.equal(deleted.bytes.length, 0);
      assert.equal((await del(id)).status, 404);
    });
  });

  describe('§7.3.2.1.5 Things API: listing', () => {
    const all = async () => ids((await get('/things?limit=1000')).json<Td[]>());

    it('[tdd-things-list-only] provides the interface to list TDs', async () => {
      const listed = await get('/things');
      assert.equal(listed.status, 200);
      assert.ok(Array.isArray(listed.json<unknown>()));
    });

    it('[tdd-things-list-method] lists TDs by GET /things', async () => {
      for (const token of [tokens.viewer, tokens.operator, tokens.admin]) {
        const listed = (await get('/things?type=Listed', token)).json<Td[]>();
        assert.deepEqual(
          ids(listed),
          [1, 2, 3, 4, 5].map((n) => `urn:conf:list:${n}`),
        );
      }
    });

    it('[tdd-things-list-resp] answers 200 with an array of TDs', async () => {
      const listed = await get('/things?type=Listed');
      assert.equal(listed.status, 200);
      for (const td of listed.json<Td[]>()) {
        assert.deepEqual([typeof td.title, td.securityDefinitions !== undefined, Array.isArray(td['@context'])], ['string', true, true]);
        assert.deepEqual(td, (await get(thing(td.id))).json(), 'the same TD as retrieved alone');
      }
    });

    it('[tdd-things-list-resp-content-type] serves the list as application/ld+json', async () => {
      assert.match((await get('/things')).headers.get('content-type') ?? '', /^application\/ld\+json/);
    });

    it('[tdd-things-list-pagination] returns the collection in small subsets', async () => {
      const everything = await all();
      const pages: string[] = [];
      for (let offset = 0; offset < everything.length; offset += 3) pages.push(...ids((await get(`/things?offset=${offset}&limit=3`)).json<Td[]>()));
      assert.deepEqual(pages, everything);
      assert.equal((await get('/things?limit=1')).headers.get('x-total-count'), String(everything.length));
    });

    it('[tdd-things-list-pagination-limit] answers at most `limit` TDs', async () => {
      for (const limit of [1, 2, 4]) assert.equal((await get(`/things?limit=${limit}`)).json<Td[]>().length, limit);
      for (const bad of ['0', '-1', '1001', 'x']) assert.equal((await get(`/things?limit=${bad}`)).status, 400, bad);
    });

    it('[tdd-things-list-pagination-header-nextlink] links the next subset while more TDs follow', async () => {
      const first = await get('/things?type=Listed&limit=2');
      const next = links(first.headers.get('link')).get('next');
      assert.ok(next, first.headers.get('link') ?? 'no Link');
      assert.deepEqual(ids((await get(next.href)).json<Td[]>()), ['urn:conf:list:3', 'urn:conf:list:4']);
      const last = await get('/things?type=Listed&offset=4&limit=2');
      assert.equal(links(last.headers.get('link')).get('next'), undefined, 'no next link on the last page');
    });

    it('[tdd-things-list-pagination-header-nextlink-attr] keeps every argument, the limit, and the next zero-based offset', async () => {
      const seen: string[] = [];
      let url: string | undefined = '/things?type=Listed&limit=2';
      const offsets: string[] = [];
      while (url) {
        const page = await get(url);
        seen.push(...ids(page.json<Td[]>()));
        url = links(page.headers.get('link')).get('next')?.href;
        if (url) {
          const params = new URL(url).searchParams;
          assert.deepEqual([params.get('type'), params.get('limit')], ['Listed', '2']);
          offsets.push(params.get('offset') ?? '');
        }
      }
      assert.deepEqual(offsets, ['2', '4']);
      assert.deepEqual(
        seen,
        [1, 2, 3, 4, 5].map((n) => `urn:conf:list:${n}`),
      );
    });

    it('[tdd-things-list-pagination-header-nextlink-base] gives the next link as an absolute URL under the API base', async () => {
      const next = links((await get('/things?limit=1')).headers.get('link')).get('next');
      assert.ok(next?.href.startsWith(`${running.urls.http}/things?`), next?.href);
    });

    it('[tdd-things-list-pagination-header-canonicallink] names the collection and its etag on every page', async () => {
      const etags = new Set<string>();
      for (const query of ['', '?limit=1', '?offset=1&limit=2', '?type=Listed&offset=4', '?format=collection']) {
        const canonical = links((await get(`/things${query}`)).headers.get('link')).get('canonical');
        assert.equal(canonical?.href, `${running.urls.http}/things`, query);
        assert.ok(canonical.params.etag, `etag on ${query}`);
        etags.add(canonical.params.etag);
      }
      assert.equal(etags.size, 1, 'one state, one etag');
      const [before] = etags;
      await patch('urn:conf:list:5', { description: 'changed again' });
      const after = links((await get('/things?limit=1')).headers.get('link')).get('canonical')?.params.etag;
      assert.notEqual(after, before, 'a changed TD changes the etag');
    });

    it('[tdd-things-list-pagination-order-default] sorts the collection by id, ascending', async () => {
      const everything = await all();
      assert.ok(everything.length > 10);
      assert.deepEqual(everything, [...everything].sort(byCodePoint));
    });

    it('[tdd-things-list-pagination-order-utf-8] sorts ids by Unicode code point, not by locale', async () => {
      // A TD id is a URI (TD 1.1 JSON Schema, format "uri"): ASCII only, a non-ASCII character is
      // percent-encoded. Code point order: % U+0025 < - U+002D < B U+0042 < a U+0061 < ~ U+007E
      // (a locale order would put "a" before "B" and ignore the punctuation).
      const order = ['urn:conf:u:%C3%A9', 'urn:conf:u:-', 'urn:conf:u:B', 'urn:conf:u:a', 'urn:conf:u:~'];
      // Titles are any text: sort_by=/title compares code points, also past U+FFFF, where UTF-16
      // code units would put U+1D538 (a surrogate pair, 0xD835…) before U+FF5A.
      const titles = ['Zeta', 'alpha', '\u00c9mile', '\u{FF5A}', '\u{1D538}'];
      for (const [i, id] of [...order].reverse().entries()) await registered(id, { title: titles[(i + 2) % titles.length] }, tokens.otherAgent);
      try {
        assert.deepEqual(
          (await all()).filter((id) => id.startsWith('urn:conf:u:')),
          order,
        );
        assert.deepEqual(ids((await get('/things?agent=agent-2&limit=1000')).json<Td[]>()), order, 'also when filtered');
        const byTitle = (await get('/things?agent=agent-2&sort_by=/title&limit=1000')).json<Td[]>();
        assert.deepEqual(
          byTitle.map((td) => td.title),
          titles,
          'titles by code point',
        );
        assert.deepEqual(titles, [...titles].sort(byCodePoint));
        assert.equal((await put('urn:conf:u:é', tdOf('urn:conf:u:é'))).status, 400, 'an IRI is no URI: only percent-encoded ids sort');
      } finally {
        for (const id of order) await del(id, tokens.otherAgent);
      }
    });

    it('[tdd-things-list-pagination-order] sorts by another field with sort_by (a JSON Pointer) and sort_order', async () => {
      const made: [string, string][] = [
        ['urn:conf:sort:1', 'Charlie'],
        ['urn:conf:sort:2', 'alpha'],
        ['urn:conf:sort:3', 'Bravo'],
      ];
      for (const [id, title] of made) await registered(id, { title, '@type': 'Sorted' });
      try {
        const sorted = async (query: string) => ids((await get(`/things?type=Sorted&${query}`)).json<Td[]>());
        assert.deepEqual(await sorted('sort_by=/title&sort_order=asc'), ['urn:conf:sort:3', 'urn:conf:sort:1', 'urn:conf:sort:2']);
        assert.deepEqual(await sorted('sort_by=/title&sort_order=desc'), ['urn:conf:sort:2', 'urn:conf:sort:1', 'urn:conf:sort:3']);
        assert.deepEqual(await sorted('sort_by=/title'), ['urn:conf:sort:3', 'urn:conf:sort:1', 'urn:conf:sort:2'], 'ascending by default');
        assert.deepEqual(await sorted('sort_by=title&sort_order=desc'), ['urn:conf:sort:2', 'urn:conf:sort:1', 'urn:conf:sort:3'], 'the plain field form');
        assert.deepEqual(await sorted('sort_by=/id&sort_order=desc'), ['urn:conf:sort:3', 'urn:conf:sort:2', 'urn:conf:sort:1']);
      } finally {
        for (const [id] of made) await del(id);
      }
    });

    it('[tdd-things-list-pagination-orderable] refuses to sort on fields that have no orderable basic values', async () => {
      // @type is an array, the TD and its properties are objects: none is an orderable basic type.
      for (const by of ['/type', '/td', '/td/properties', '/reported']) {
        const refused = await get(`/things?sort_by=${enc(by)}`);
        assert.equal(refused.status, 400, `sort_by=${by}: ${refused.status}`);
        assert.match(refused.headers.get('content-type') ?? '', /^application\/problem\+json/);
      }
    });

    it('[tdd-things-list-pagination-order-unsupported] refuses a custom sort order it does not support', async () => {
      for (const query of ['sort_by=/title&sort_order=sideways', 'sort_by=/nothing', 'sort_by=title~2']) {
        const refused = await get(`/things?${query}`);
        assert.equal(refused.status, 400, `${query} must be refused, not ignored; got ${refused.status}`);
        assert.match(refused.headers.get('content-type') ?? '', /^application\/problem\+json/);
      }
    });

    it('[tdd-things-list-pagination-order-nextlink] adds the sorting attributes to every next link', async () => {
      const seen: string[] = [];
      let url: string | undefined = `${running.urls.http}/things?type=Listed&sort_by=%2Fid&sort_order=desc&limit=2`;
      let pages = 0;
      while (url) {
        const page = await get(url);
        assert.equal(page.status, 200);
        seen.push(...ids(page.json<Td[]>()));
        pages++;
        url = links(page.headers.get('link')).get('next')?.href;
        if (url) {
          const params = new URL(url).searchParams;
          assert.deepEqual([params.get('sort_by'), params.get('sort_order'), params.get('type'), params.get('limit')], ['/id', 'desc', 'Listed', '2'], url);
        }
      }
      assert.equal(pages, 3);
      assert.deepEqual(
        seen,
        [5, 4, 3, 2, 1].map((n) => `urn:conf:list:${n}`),
      );
    });

    it('[tdd-things-list-pagination-collection] serves a ThingCollection with paging information on ?format=collection', async () => {
      const page = await get('/things?type=Listed&format=collection&limit=2');
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type') ?? '', /^application\/ld\+json/);
      const collection = page.json<Json & { members: Td[]; next: string }>();
      assert.deepEqual([collection['@context'], collection['@type'], collection.total], [DISCOVERY, 'ThingCollection', 5]);
      assert.deepEqual(ids(collection.members), ['urn:conf:list:1', 'urn:conf:list:2']);
      assert.equal(collection['@id'], `${running.urls.http}/things?type=Listed&format=collection&limit=2`);
      const rest = (await get(collection.next)).json<Json & { members: Td[] }>();
      assert.deepEqual(ids(rest.members), ['urn:conf:list:3', 'urn:conf:list:4']);
      assert.equal(links(page.headers.get('link')).get('next')?.href, collection.next);
    });
  });

  describe('§7.3.2.2 Validation', () => {
    const invalid = (id: string) => put(id, tdOf(id, { properties: { température: { type: 'nope', forms: [{ href: 't' }] } } }));

    it('[tdd-validation-syntactic] refuses a body that is not JSON', async () => {
      const refused = await call('PUT', thing('urn:conf:syntax'), tokens.agent, '{"title": "broken",');
      assert.equal(refused.status, 400);
      assert.match(refused.headers.get('content-type') ?? '', /^application\/problem\+json/);
      assert.equal((await get(thing('urn:conf:syntax'))).status, 404);
    });

    it('[tdd-validation-jsonschema] validates TDs with the TD 1.1 JSON Schema', async () => {
      const { security: _security, ...noSecurity } = tdOf('urn:conf:schema-1');
      const cases: Json[] = [noSecurity, tdOf('urn:conf:schema-2', { title: 7 }), tdOf('urn:conf:schema-3', { properties: { p: { type: 'nope' } } })];
      for (const td of cases) {
        const refused = await put(String(td.id), td);
        assert.equal(refused.status, 400, JSON.stringify(td));
        assert.equal((await get(thing(String(td.id)))).status, 404);
      }
      assert.equal((await invalid('urn:conf:schema-4')).status, 400);
    });

    it('[tdd-validation-result] tells the client where each error is and what it is', async () => {
      const problem = (await invalid('urn:conf:result')).json<{ detail: string; errors: Array<{ pointer: string; message: string }> }>();
      const error = problem.errors.find((e) => e.pointer.startsWith('/properties/température'));
      assert.ok(error, JSON.stringify(problem.errors));
      assert.ok(error.message.length > 0);
      const ttl = (await put('urn:conf:result-ttl', tdOf('urn:conf:result-ttl', { registration: { ttl: -5 } }))).json<{ errors: Array<{ pointer: string }> }>();
      assert.deepEqual(
        ttl.errors.map((e) => e.pointer),
        ['/registration/ttl'],
      );
    });

    it('[tdd-validation-response] describes validation errors in problem details with validationErrors [{ field, description }]', async () => {
      const refused = await invalid('urn:conf:response');
      assert.equal(refused.status, 400);
      assert.match(refused.headers.get('content-type') ?? '', /^application\/problem\+json/);
      const { validationErrors, status } = refused.json<{ status: number; validationErrors: Array<{ field: string; description: string }> }>();
      assert.equal(status, 400);
      assert.ok(Array.isArray(validationErrors) && validationErrors.length > 0);
      for (const error of validationErrors) assert.deepEqual([typeof error.field, typeof error.description], ['string', 'string']);
      assert.ok(validationErrors.some((e) => e.field.includes('température')));
    });

    it('[tdd-validation-response-utf-8] encodes validation errors in UTF-8', async () => {
      const refused = await invalid('urn:conf:response-utf8');
      assert.match(refused.headers.get('content-type') ?? '', /^application\/problem\+json(;\s*charset=utf-8)?$/i);
      assert.ok(refused.bytes.includes(Buffer.from('température', 'utf8')));
      assert.doesNotThrow(() => new TextDecoder('utf-8', { fatal: true }).decode(refused.bytes));
    });
  });

  describe('§7.3.2.3 Notification (SSE)', () => {
    it('[tdd-notification] offers the Notification API, declared in the directory TD', async () => {
      const directory = (await call('GET', '/.well-known/wot', null)).json<{ events: Record<string, { forms: Array<{ href: string }> }> }>();
      assert.deepEqual(Object.keys(directory.events).sort(), ['thingCreated', 'thingDeleted', 'thingUpdated']);
      const href = directory.events.thingCreated.forms[0].href.replace(/\{[^}]*\}/g, '');
      assert.match((await call('HEAD', new URL(href, `${running.urls.http}/`).href, tokens.viewer)).headers.get('content-type') ?? '', /^text\/event-stream/);
    });

    it('[tdd-notification-sse] serves Server-Sent Events at /events', async () => {
      const stream = await events('/events');
      assert.match(stream.response.headers.get('content-type') ?? '', /^text\/event-stream/);
      await registered('urn:conf:sse');
      assert.equal((await stream.find(about('urn:conf:sse'))).event, 'thing_created');
      const byQueryToken = await EventStream.open(`${running.urls.http}/events?access_token=${tokens.viewer}`, {});
      streams.push(byQueryToken);
      assert.equal(byQueryToken.response.status, 200);
    });

    it('[tdd-notification-event-id] gives every event an id and replays missed events on reconnection', async () => {
      const id = 'urn:conf:resume';
      const first = await events('/events');
      await registered(id);
      const created = await first.find(about(id));
      assert.match(created.id ?? '', /^\S+$/);
      first.close();
      await patch(id, { title: 'Missed' });
      await del(id);
      const resumed = await events('/events', { 'last-event-id': created.id! });
      const deleted = await resumed.find((e) => e.event === 'thing_deleted' && about(id)(e));
      const mine = resumed.events.filter(about(id));
      assert.deepEqual(
        mine.map((e) => e.event),
        ['thing_updated', 'thing_deleted'],
        'the missed events, in order, without the one already seen',
      );
      assert.ok(mine.every((e) => e.id !== undefined && e.id !== created.id));
      assert.notEqual(deleted.id, mine[0].id);
    });

    it('[tdd-notification-event-types] announces thing_created, thing_updated and thing_deleted', async () => {
      const stream = await events('/events');
      const id = 'urn:conf:types';
      await registered(id);
      await put(id, tdOf(id, { title: 'Replaced' }));
      await patch(id, { title: 'Patched' });
      await del(id);
      await stream.find((e) => e.event === 'thing_deleted' && about(id)(e));
      assert.deepEqual(
        stream.events.filter(about(id)).map((e) => e.event),
        ['thing_created', 'thing_updated', 'thing_updated', 'thing_deleted'],
      );
    });

    it('[tdd-notification-filter-type] filters events by the type asked for on subscription', async () => {
      const deletions = await events('/events/thing_deleted');
      const creations = await events('/events/thing_created');
      const id = 'urn:conf:filter';
      await registered(id);
      await patch(id, { title: 'x' });
      await del(id);
      await deletions.find(about(id));
      await creations.find(about(id));
      assert.deepEqual([...new Set(deletions.events.map((e) => e.event))], ['thing_deleted']);
      assert.deepEqual([...new Set(creations.events.map((e) => e.event))], ['thing_created']);
      assert.equal((await call('GET', '/events/thing_renamed', tokens.viewer)).status, 404);
    });

    it('[tdd-notification-data] carries the event object as JSON data', async () => {
      const stream = await events('/events');
      const id = 'urn:conf:data';
      await registered(id);
      await del(id);
      await stream.find((e) => e.event === 'thing_deleted' && about(id)(e));
      for (const event of stream.events.filter((e) => e.event.startsWith('thing_'))) {
        const parsed = JSON.parse(event.data) as unknown;
        assert.ok(typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed), event.data);
      }
    });

    it('[tdd-notification-data-td-id] includes the TD id in every event', async () => {
      for (const path of ['/events', '/events?diff=true']) {
        const stream = await events(path);
        const id = `urn:conf:td-id:${path.length}`;
        await registered(id);
        await patch(id, { description: 'changed' });
        await del(id);
        await stream.find((e) => e.event === 'thing_deleted' && about(id)(e));
        assert.deepEqual(
          stream.events.filter(about(id)).map((e) => e.event),
          ['thing_created', 'thing_updated', 'thing_deleted'],
          path,
        );
      }
    });

    it('[tdd-notification-data-create-full] sends the whole TD on thing_created with diff=true', async () => {
      const stream = await events('/events/thing_created?diff=true');
      const id = 'urn:conf:create-full';
      const td = await registered(id);
      assert.deepEqual(JSON.parse((await stream.find(about(id))).data), td);
    });

    it('[tdd-notification-data-update-diff] sends the merge patch of the change on thing_updated with diff=true', async () => {
      const id = 'urn:conf:update-diff';
      const before = await registered(id);
      const diffs = await events('/events/thing_updated?diff=true');
      const whole = await events('/events/thing_updated');
      await patch(id, { title: 'Diffed', description: null });
      const diff = JSON.parse((await diffs.find(about(id))).data) as Json;
      assert.equal(diff.title, 'Diffed');
      assert.equal(diff.description, null, 'a removal is a null member');
      for (const unchanged of ['properties', 'securityDefinitions', 'security', '@context']) assert.equal(diff[unchanged], undefined, unchanged);
      const after = (await get(thing(id))).json();
      assert.deepEqual(Object.keys(JSON.parse((await whole.find(about(id))).data) as Json).sort(), Object.keys(after).sort(), 'without diff: the whole TD');
      assert.notDeepEqual(before, after);
      assert.equal((await call('GET', '/events?diff=maybe', tokens.viewer)).status, 400);
    });

    it('[tdd-notification-data-update-id] includes the id in a thing_updated merge patch', async () => {
      const id = 'urn:conf:update-id';
      await registered(id);
      const diffs = await events('/events/thing_updated?diff=true');
      await patch(id, { description: 'only this changed' });
      const diff = JSON.parse((await diffs.find(about(id))).data) as Json;
      assert.equal(diff.id, id);
      assert.equal(diff.description, 'only this changed');
    });

    it('[tdd-notification-data-delete-diff] ignores diff for thing_deleted: the data is the id alone', async () => {
      const id = 'urn:conf:delete-diff';
      await registered(id);
      const diffs = await events('/events/thing_deleted?diff=true');
      await del(id);
      assert.deepEqual(JSON.parse((await diffs.find(about(id))).data), { id });
    });
  });

  describe('§7.3.2.4 Search', () => {
    const sparql = (query: string, accept?: string) =>
      call('GET', `/search/sparql?query=${enc(query)}`, tokens.viewer, undefined, undefined, accept ? { accept } : {});

    it('[tdd-search-large-tdds] searches TDs with JSONPath instead of listing them all', async () => {
      const found = await get(`/search/jsonpath?query=${enc("$[?@['@type']=='Listed'].id")}`);
      assert.equal(found.status, 200, found.text);
      assert.match(found.headers.get('content-type') ?? '', /^application\/json/);
      assert.deepEqual(
        found.json<string[]>(),
        [1, 2, 3, 4, 5].map((n) => `urn:conf:list:${n}`),
      );
      assert.equal((await get(`/search/jsonpath?query=${enc('$[?@.title ==]')}`)).status, 400);
    });

    it('[tdd-search-sparql] implements semantic search with SPARQL', async () => {
      const answer = await sparql(
        `${TD_PREFIX} SELECT ?t WHERE { ?t td:title ?title FILTER(STRSTARTS(STR(?t), "urn:conf:list:") && STR(?title) = "Conformance lamp") } ORDER BY ?t`,
      );
      assert.equal(answer.status, 200, answer.text);
      const rows = answer.json<{ results: { bindings: Array<{ t: { value: string } }> } }>().results.bindings;
      assert.deepEqual(
        rows.map((row) => row.t.value),
        [1, 2, 3, 4, 5].map((n) => `urn:conf:list:${n}`),
      );
    });

    it('[tdd-search-sparql-version] speaks the SPARQL 1.1 protocol and query language', async () => {
      // SPARQL 1.1 only: aggregates, BIND, property paths, VALUES.
      const query = `${TD_PREFIX} SELECT (COUNT(DISTINCT ?t) AS ?n) WHERE { VALUES ?lang { "en" } ?t td:title ?title ; td:hasPropertyAffordance/td:name ?name BIND(STR(?t) AS ?id) FILTER(LANG(?title) = ?lang && STRSTARTS(?id, "urn:conf:list:")) }`;
      const answer = await sparql(query);
      assert.equal(answer.status, 200, answer.text);
      const result = answer.json<{ head: { vars: string[] }; results: { bindings: Array<{ n: { value: string } }> } }>();
      assert.deepEqual(result.head.vars, ['n']);
      assert.equal(result.results.bindings[0].n.value, '5');
      assert.match((await sparql('SELECT * WHERE {', 'application/sparql-results+json')).headers.get('content-type') ?? '', /problem\+json/);
    });

    it('[tdd-search-sparql-method-get] takes queries by GET /search/sparql?query=', async () => {
      const answer = await sparql(`${TD_PREFIX} ASK { <urn:conf:list:1> td:title "Conformance lamp"@en }`);
      assert.equal(answer.status, 200);
      assert.equal(answer.json<{ boolean: boolean }>().boolean, true);
    });

    it('[tdd-search-sparql-method-post] takes queries by POST /search/sparql, as the body or a form', async () => {
      const query = `${TD_PREFIX} ASK { <urn:conf:list:2> td:title "Conformance lamp"@en }`;
      const asBody = await call('POST', '/search/sparql', tokens.viewer, query, 'application/sparql-query');
      const asForm = await call('POST', '/search/sparql', tokens.viewer, new URLSearchParams({ query }).toString(), 'application/x-www-form-urlencoded');
      for (const answer of [asBody, asForm]) {
        assert.equal(answer.status, 200, answer.text);
        assert.equal(answer.json<{ boolean: boolean }>().boolean, true);
      }
    });

    it('[tdd-search-sparql-resp-select-ask] answers SELECT and ASK with 200 application/json', async () => {
      for (const query of ['SELECT ?s WHERE { ?s ?p ?o } LIMIT 1', 'ASK { ?s ?p ?o }']) {
        const answer = await sparql(query);
        assert.equal(answer.status, 200, query);
        assert.match(answer.headers.get('content-type') ?? '', /^application\/json/, query);
        assert.ok(answer.json<Json>().head, 'SPARQL 1.1 Query Results JSON');
      }
    });

    it('[tdd-search-sparql-resp-describe-construct] answers CONSTRUCT and DESCRIBE with 200 application/ld+json', async () => {
      const queries = [
        `${TD_PREFIX} CONSTRUCT { ?t td:title ?title } WHERE { ?t td:title ?title FILTER(?t = <urn:conf:list:1>) }`,
        'DESCRIBE <urn:conf:list:1>',
      ];
      for (const query of queries) {
        const answer = await sparql(query);
        assert.equal(answer.status, 200, `${query}: ${answer.text}`);
        assert.match(answer.headers.get('content-type') ?? '', /^application\/ld\+json/, query);
        assert.ok(answer.text.includes('urn:conf:list:1'), answer.text);
      }
    });

    it('[tdd-search-sparql-error] refuses anything but SELECT, ASK, CONSTRUCT and DESCRIBE with 400', async () => {
      for (const update of ['INSERT DATA { <urn:a> <urn:b> "c" }', 'DELETE WHERE { ?s ?p ?o }', 'CLEAR ALL']) {
        const answer = await sparql(update);
        assert.equal(answer.status, 400, update);
        assert.match(answer.headers.get('content-type') ?? '', /^application\/problem\+json/);
      }
      const form = await call('POST', '/search/sparql', tokens.viewer, 'update=CLEAR%20ALL', 'application/x-www-form-urlencoded');
      assert.equal(form.status, 400);
      assert.equal((await get('/things?type=Listed')).json<Td[]>().length, 5, 'nothing was changed');
    });
  });

  describe('§6 Information model: Enriched TDs and registration information', () => {
    it('[tdd-context-injection] adds the Discovery context to every served TD', async () => {
      const id = 'urn:conf:context';
      await registered(id);
      const served = [(await get(thing(id))).json(), ...(await get('/things')).json<Td[]>()];
      for (const td of served) assert.ok(Array.isArray(td['@context']) && td['@context'].includes(DISCOVERY), td.id);
      // Then the prefixes the HTTP forms use: twinhub (history forms, docs/history.md).
      assert.deepEqual((await get(thing(id))).json()['@context'], [TD_CONTEXT, DISCOVERY, { twinhub: 'urn:twinhub:vocab#' }]);
      const anonymous = await call('POST', '/things', tokens.agent, tdOf(undefined, { '@context': [TD_CONTEXT, { saref: 'https://saref.etsi.org/core/' }] }));
      assert.ok((anonymous.json()['@context'] as unknown[]).includes(DISCOVERY));
    });

    it('[tdd-registrationinfo-vocab-created] sets created when the TD enters the directory', async () => {
      const id = 'urn:conf:created';
      const start = Date.now();
      const first = await registered(id, { registration: { created: '2000-01-01T00:00:00Z' } });
      const created = String(first.registration?.created);
      assert.match(created, RFC3339);
      assert.ok(Date.parse(created) >= start - 1000 && Date.parse(created) <= Date.now(), 'the directory sets it; the registrant cannot');
      await patch(id, { title: 'later' });
      assert.equal((await get(thing(id))).json().registration?.created, created, 'kept across updates');
    });

    it('[tdd-registrationinfo-vocab-modified] sets modified on every change', async () => {
      const id = 'urn:conf:modified';
      const first = await registered(id);
      assert.match(String(first.registration?.modified), RFC3339);
      await new Promise((resolve) => setTimeout(resolve, 20));
      await patch(id, { title: 'changed' });
      const second = (await get(thing(id))).json();
      assert.ok(Date.parse(String(second.registration?.modified)) > Date.parse(String(first.registration?.modified)));
      assert.ok(Date.parse(String(second.registration?.modified)) >= Date.parse(String(second.registration?.created)));
    });

    it('[tdd-registrationinfo-vocab-expires] computes expires from ttl, ignoring the registrant’s expires', async () => {
      const id = 'urn:conf:expires';
      const td = await registered(id, { registration: { ttl: 3600, expires: '2001-01-01T00:00:00Z' } });
      const { expires, modified } = td.registration as { expires: string; modified: string };
      assert.match(expires, RFC3339);
      assert.equal(Date.parse(expires) - Date.parse(modified), 3600_000);
      const absolute = await registered('urn:conf:expires-abs', { registration: { expires: '2099-01-01T00:00:00Z' } });
      assert.equal(Date.parse(String(absolute.registration?.expires)), Date.parse('2099-01-01T00:00:00Z'), 'without ttl the registrant sets it');
    });

    it('[tdd-registrationinfo-vocab-ttl] keeps ttl and uses it to renew expires on each update', async () => {
      const id = 'urn:conf:ttl';
      const first = await registered(id, { registration: { ttl: 60 } });
      assert.equal(first.registration?.ttl, 60);
      await new Promise((resolve) => setTimeout(resolve, 20));
      await put(id, tdOf(id, { registration: { ttl: 120 } }));
      const second = (await get(thing(id))).json().registration as { ttl: number; expires: string; modified: string };
      assert.equal(second.ttl, 120);
      assert.equal(Date.parse(second.expires) - Date.parse(second.modified), 120_000);
      for (const ttl of [0, -1, 'ten']) assert.equal((await put(id, tdOf(id, { registration: { ttl } }))).status, 400, String(ttl));
    });

    it('[tdd-registrationinfo-expiry-config] refuses expiry times past its upper limit (ten years)', async () => {
      const refused = await put('urn:conf:forever', tdOf('urn:conf:forever', { registration: { ttl: 11 * 365 * 24 * 3600 } }));
      assert.equal(refused.status, 400);
      assert.deepEqual(
        refused.json<{ validationErrors: Array<{ field: string }> }>().validationErrors.map((e) => e.field),
        ['/registration/ttl'],
      );
    });

    it('[tdd-registrationinfo-expiry-purge] purges expired TDs and announces their deletion', async () => {
      const id = 'urn:conf:purge';
      const deletions = await events('/events/thing_deleted');
      await registered(id, { registration: { ttl: 1 } });
      await until(async () => ((await get(thing(id))).status === 404 ? true : undefined), 'the expired TD to be purged', 10_000);
      assert.deepEqual(JSON.parse((await deletions.find(about(id))).data), { id });
      assert.ok(!ids((await get('/things?limit=1000')).json<Td[]>()).includes(id));
    });

    it('[tdd-absolute-time] interprets and serves absolute times as RFC 3339 date-times', async () => {
      const td = await registered('urn:conf:time', { registration: { expires: '2099-06-01T02:00:00+02:00' } });
      assert.equal(td.registration?.expires, '2099-06-01T00:00:00.000Z', 'the offset is honoured');
      for (const value of Object.values(td.registration ?? {})) if (typeof value === 'string') assert.match(value, RFC3339);
      assert.equal((await put('urn:conf:time-2', tdOf('urn:conf:time-2', { registration: { expires: 'next Tuesday' } }))).status, 400);
    });
  });

  describe('§6.3 Anonymous TDs', () => {
    it('[tdd-anonymous-td-identifier] exposes Anonymous TDs with their local id, in retrieval, listing and search', async () => {
      const created = await call('POST', '/things', tokens.agent, tdOf(undefined, { title: 'Anonymous to find' }));
      const id = created.json().id;
      assert.equal((await call('GET', created.headers.get('location')!, tokens.viewer)).json().id, id);
      assert.ok(ids((await get('/things?limit=1000')).json<Td[]>()).includes(id));
      const found = await get(`/search/jsonpath?query=${enc("$[?@.title=='Anonymous to find'].id")}`);
      assert.deepEqual(found.json<string[]>(), [id]);
    });

    it('[tdd-anonymous-td-local-uuid] makes the local id a version 4 UUID URN', async () => {
      const generated = new Set<string>();
      for (let i = 0; i < 3; i++) generated.add((await call('POST', '/things', tokens.agent, tdOf(undefined))).json().id);
      assert.equal(generated.size, 3);
      for (const id of generated) assert.match(id, UUID_V4_URN);
    });
  });
});
