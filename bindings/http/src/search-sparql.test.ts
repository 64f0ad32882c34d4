// /search/sparql (W3C WoT Discovery §7.3.2.4.3): SPARQL 1.1 over the twin TDs as RDF, against a real hub.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lampTd, startHttpHub, type HttpHubFixture } from './testing.js';

const enc = encodeURIComponent;
const PREFIX = 'PREFIX td: <https://www.w3.org/2019/wot/td#>\n';

interface SelectResults {
  head: { vars: string[] };
  results: { bindings: Record<string, { type: string; value: string; 'xml:lang'?: string }>[] };
}

function sensorTd(id: string, title: string, context: unknown = 'https://www.w3.org/2022/wot/td/v1.1'): Record<string, unknown> {
  return {
    '@context': context,
    id,
    title,
    '@type': 'Sensor',
    securityDefinitions: { nosec_sc: { scheme: 'nosec' } },
    security: 'nosec_sc',
    properties: { temperature: { type: 'number', readOnly: true, forms: [{ href: 'temperature' }] } },
  };
}

const values = (res: { body: unknown }, name: string) => (res.body as SelectResults).results.bindings.map((binding) => binding[name]?.value).sort();

describe('SPARQL search (/search/sparql)', () => {
  let fx: HttpHubFixture;
  const get = (query: string, token?: string, headers: Record<string, string> = {}) =>
    fx.request('GET', `/search/sparql?query=${enc(query)}`, { token: token ?? fx.tokens.viewer, headers });
  const put = async (td: Record<string, unknown>, token: string, status = 201) => {
    const res = await fx.request('PUT', `/things/${enc(td.id as string)}`, { token, body: td });
    assert.equal(res.status, status, res.text);
  };

  before(async () => {
    fx = await startHttpHub();
    await put({ ...lampTd('urn:search:sq:lamp-1'), title: 'Lamp One' }, fx.tokens.agent);
    await put(sensorTd('urn:search:sq:sensor-1', 'Sensor One'), fx.tokens.agent);
    await put(sensorTd('urn:search:sq:sensor-2', 'Sensor Two'), fx.tokens.otherAgent);
  });
  after(() => fx.close());

  test('[tdd-search-sparql-method-get] GET SELECT: titles of the Things having an action, as SPARQL JSON results', async () => {
    // A viewer finds it although its own twin TD leaves out an action it has no form for (search reads every form).
    const res = await get(`${PREFIX}SELECT DISTINCT ?title WHERE { ?thing td:hasActionAffordance ?action ; td:title ?title }`);
    assert.equal(res.status, 200, res.text);
    // [tdd-search-sparql-resp-select-ask] application/json by default.
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const results = res.body as SelectResults;
    assert.deepEqual(results.head.vars, ['title']);
    assert.deepEqual(results.results.bindings, [{ title: { type: 'literal', value: 'Lamp One', 'xml:lang': 'en' } }]);
  });

  test('Accept: application/sparql-results+json gets the registered type', async () => {
    const res = await get(`${PREFIX}SELECT ?t WHERE { ?x td:title ?t }`, undefined, { Accept: 'application/sparql-results+json' });
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers.get('content-type') ?? '', /^application\/sparql-results\+json/);
    assert.deepEqual(values(res, 't'), ['Lamp One', 'Sensor One', 'Sensor Two']);
  });

  test('each Thing is a named graph named by its id; @type and property affordances are RDF', async () => {
    const res = await get(`${PREFIX}SELECT ?g WHERE { GRAPH ?g { ?g a <https://www.w3.org/2019/wot/td#Sensor> } }`);
    // `Sensor` has no prefix: the TD context's @vocab (td:) maps it.
    assert.deepEqual(values(res, 'g'), ['urn:search:sq:sensor-1', 'urn:search:sq:sensor-2']);
    const props = await get(`${PREFIX}SELECT ?name WHERE { <urn:search:sq:lamp-1> td:hasPropertyAffordance ?p . ?p td:name ?name }`);
    assert.deepEqual(values(props, 'name'), ['blob', 'brightness', 'status']);
  });

  test('ASK answers true or false', async () => {
    const yes = await get(`${PREFIX}ASK { ?x td:title "Sensor Two"@en }`);
    assert.equal(yes.status, 200, yes.text);
    assert.deepEqual(yes.body, { head: {}, boolean: true });
    const no = await get(`${PREFIX}ASK { ?x td:title "Nothing"@en }`);
    assert.equal((no.body as { boolean: boolean }).boolean, false);
  });

  test('[tdd-search-sparql-method-post] POST with application/sparql-query, and as a query= form', async () => {
    const query = `${PREFIX}SELECT ?t WHERE { <urn:search:sq:sensor-1> td:title ?t }`;
    const raw = await fx.request('POST', '/search/sparql', { token: fx.tokens.viewer, raw: query, headers: { 'Content-Type': 'application/sparql-query' } });
    assert.equal(raw.status, 200, raw.text);
    assert.deepEqual(values(raw, 't'), ['Sensor One']);
    const form = await fx.request('POST', '/search/sparql', {
      token: fx.tokens.viewer,
      raw: new URLSearchParams({ query }).toString(),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(form.status, 200, form.text);
    assert.deepEqual(values(form, 't'), ['Sensor One']);
    const wrongType = await fx.request('POST', '/search/sparql', { token: fx.tokens.viewer, body: { query } });
    assert.equal(wrongType.status, 415);
  });

  test('[tdd-search-sparql-resp-describe-construct] CONSTRUCT answers JSON-LD', async () => {
    const res = await get(`${PREFIX}CONSTRUCT { ?x td:title ?t } WHERE { ?x td:title ?t FILTER(?x = <urn:search:sq:sensor-2>) }`);
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers.get('content-type') ?? '', /^application\/ld\+json/);
    assert.deepEqual(res.body, [{ '@id': 'urn:search:sq:sensor-2', 'https://www.w3.org/2019/wot/td#title': [{ '@value': 'Sensor Two', '@language': 'en' }] }]);
  });

  test('[tdd-search-sparql-error] an update is a 400, on GET and POST', async () => {
    const update = 'INSERT DATA { <urn:x> <urn:y> <urn:z> }';
    const res = await get(update);
    assert.equal(res.status, 400);
    assert.match((res.body as { detail: string }).detail, /updates .* are not accepted/);
    const posted = await fx.request('POST', '/search/sparql', { token: fx.tokens.admin, raw: update, headers: { 'Content-Type': 'application/sparql-query' } });
    assert.equal(posted.status, 400);
    const form = await fx.request('POST', '/search/sparql', {
      token: fx.tokens.admin,
      raw: new URLSearchParams({ update }).toString(),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(form.status, 400);
    // Nothing was inserted.
    assert.equal(((await get('ASK { <urn:x> <urn:y> <urn:z> }')).body as { boolean: boolean }).boolean, false);
  });

  test('a syntax error is a 400 problem naming where', async () => {
    const res = await get('SELEC ?x WHERE { ?x ?y ?z }');
    assert.equal(res.status, 400);
    assert.match((res.body as { detail: string }).detail, /invalid SPARQL 1\.1 query: Parse error on line 1/);
  });

  test('[tdd-search-sparql-federation] SERVICE is refused (501): the hub never calls out', async () => {
    let called = false;
    const remote = http.createServer((_req, res) => {
      called = true;
      res.end();
    });
    await new Promise<void>((resolve) => remote.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = remote.address() as AddressInfo;
      const res = await get(`SELECT * WHERE { OPTIONAL { SERVICE <http://127.0.0.1:${port}/sparql> { ?s ?p ?o } } }`);
      assert.equal(res.status, 501, res.text);
      assert.match((res.body as { detail: string }).detail, /SERVICE .* is not supported/);
      assert.equal(called, false);
    } finally {
      remote.close();
    }
  });

  test("an agent cannot reach another agent's Thing, not with FROM, FROM NAMED nor GRAPH", async () => {
    const other = '<urn:search:sq:sensor-2>';
    const mine = await get(`${PREFIX}SELECT ?t WHERE { ?x td:title ?t }`, fx.tokens.agent);
    assert.deepEqual(values(mine, 't'), ['Lamp One', 'Sensor One']);
    const from = await get(`${PREFIX}SELECT ?t FROM ${other} WHERE { ?x td:title ?t }`, fx.tokens.agent);
    assert.equal(from.status, 200, from.text);
    assert.deepEqual(values(from, 't'), []);
    const named = await get(`${PREFIX}SELECT ?t FROM NAMED ${other} WHERE { GRAPH ?g { ?x td:title ?t } }`, fx.tokens.agent);
    assert.deepEqual(values(named, 't'), []);
    const graph = await get(`${PREFIX}SELECT ?t WHERE { GRAPH ${other} { ?x td:title ?t } }`, fx.tokens.agent);
    assert.deepEqual(values(graph, 't'), []);
    const graphs = await get('SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }', fx.tokens.agent);
    assert.deepEqual(values(graphs, 'g'), ['urn:search:sq:lamp-1', 'urn:search:sq:sensor-1']);
    // The other agent, and a viewer, see what they may.
    assert.deepEqual(values(await get(`${PREFIX}SELECT ?t WHERE { ?x td:title ?t }`, fx.tokens.otherAgent), 't'), ['Sensor Two']);
    assert.deepEqual(values(await get(`${PREFIX}SELECT ?t FROM ${other} WHERE { ?x td:title ?t }`), 't'), ['Sensor Two']);
  });

  test('after a TD is updated or deleted, the search reflects it', async () => {
    const id = 'urn:search:sq:changing';
    const title = `${PREFIX}SELECT ?t WHERE { <${id}> td:title ?t }`;
    await put(sensorTd(id, 'Before'), fx.tokens.agent);
    assert.deepEqual(values(await get(title), 't'), ['Before']);
    await put(sensorTd(id, 'After'), fx.tokens.agent, 204);
    assert.deepEqual(values(await get(title), 't'), ['After']);
    // The agent's own view (a per-query dataset) follows too.
    assert.deepEqual(values(await get(title, fx.tokens.agent), 't'), ['After']);
    assert.equal((await fx.request('DELETE', `/things/${enc(id)}`, { token: fx.tokens.agent })).status, 204);
    assert.deepEqual(values(await get(title), 't'), []);
    assert.deepEqual(values(await get(`SELECT ?g WHERE { GRAPH ?g { <${id}> ?p ?o } }`), 'g'), []);
  });

  test('a TD with a context URL the hub does not bundle is searchable on its TD terms, and the URL is never fetched', async () => {
    let fetched = false;
    const contextServer = http.createServer((_req, res) => {
      fetched = true;
      res.end('{"@context":{}}');
    });
    await new Promise<void>((resolve) => contextServer.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = contextServer.address() as AddressInfo;
      const id = 'urn:search:sq:extra-context';
      const context = ['https://www.w3.org/2022/wot/td/v1.1', `http://127.0.0.1:${port}/context.jsonld`, { saref: 'https://saref.etsi.org/core/' }];
      await put({ ...sensorTd(id, 'Extra'), '@context': context, '@type': ['Sensor', 'saref:TemperatureSensor'] }, fx.tokens.agent);
      const res = await get(`${PREFIX}SELECT ?t WHERE { ?x a <https://saref.etsi.org/core/TemperatureSensor> ; td:title ?t }`);
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(values(res, 't'), ['Extra']);
      const props = await get(`${PREFIX}SELECT ?name WHERE { <${id}> td:hasPropertyAffordance/td:name ?name }`);
      assert.deepEqual(values(props, 'name'), ['temperature']);
      assert.equal(fetched, false);
    } finally {
      contextServer.close();
    }
  });

  test('a runaway query is stopped (422) while the hub keeps answering', async () => {
    const pending = get('SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n2 ?o }');
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal((await fx.request('GET', '/health', { token: null })).status, 200);
    const res = await pending;
    assert.equal(res.status, 422, res.text);
    assert.match((res.body as { detail: string }).detail, /the query ran more than 5 s, the limit, and was stopped/);
    // A fresh worker rebuilds the dataset for the next query.
    assert.deepEqual(values(await get(`${PREFIX}SELECT ?t WHERE { <urn:search:sq:sensor-1> td:title ?t }`), 't'), ['Sensor One']);
  });
});
