// The search engine's preparation: converting many TDs to RDF outlasts a query's patience, but not
// the work: the query gets a 503 and the conversion goes on, so a later query is answered.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { createHub, type Client } from '@twinhub/core';
import { MemoryStore } from '@twinhub/storage-memory';
import { lampTd } from '@twinhub/testkit';
import type { Answer } from './protocol.js';
import { SearchEngine } from './search-engine.js';

const agent: Client = { id: 'agent-1', role: 'agent' };
const viewer: Client = { id: 'viewer-1', role: 'viewer' };
const THINGS = 200;
const QUERY = 'PREFIX td: <https://www.w3.org/2019/wot/td#>\nSELECT (COUNT(?t) AS ?n) WHERE { ?t td:title ?title }';

describe('search preparation', () => {
  const closing: (() => Promise<void>)[] = [];
  after(async () => {
    for (const close of closing) await close();
  });

  test('a large conversion answers 503 while it goes on, and later queries see every Thing', async () => {
    const hub = await createHub({ store: new MemoryStore() });
    closing.push(() => hub.close());
    for (let i = 0; i < THINGS; i++) {
      const result = await hub.handle({ operation: 'updateTD', input: lampTd(`urn:search:prep:${i}`) }, { client: agent });
      assert.ok(result.ok);
    }
    const engine = new SearchEngine({ hub, logger: pino({ level: 'silent' }), prepareAnswerMs: 50 });
    closing.unshift(() => engine.close());
    const first = await engine.search(viewer, 'sparql', QUERY, undefined);
    assert.equal(first.ok, false);
    assert.equal(!first.ok && first.problem.status, 503);
    assert.match(!first.ok ? first.problem.detail : '', /being brought up to date/);
    let answer: Answer = first;
    for (let i = 0; i < 600 && !answer.ok; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      answer = await engine.search(viewer, 'sparql', QUERY, undefined);
    }
    assert.ok(answer.ok, JSON.stringify(answer));
    const results = JSON.parse(answer.body) as { results: { bindings: { n: { value: string } }[] } };
    assert.equal(Number(results.results.bindings[0].n.value), THINGS);
  });
});
