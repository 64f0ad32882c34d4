// The search worker (node:worker_threads): keeps a copy of the TDs the hub sent it and their RDF,
// and runs one query at a time, off the hub's event loop. The main thread bounds its time and heap.

import { parentPort } from 'node:worker_threads';
import { runJsonPath } from './jsonpath.js';
import type { Answer, AnswerMessage, ProgressMessage, QueryMessage, StartedMessage, TdObject } from './protocol.js';
import { TdRdfIndex } from './rdf-index.js';
import { runSparql } from './sparql.js';

const tds = new Map<string, TdObject>();
const rdf = new TdRdfIndex();

function answer(message: QueryMessage, warnings: string[]): Answer {
  for (const thingId of message.sync.deletes) {
    tds.delete(thingId);
    rdf.delete(thingId);
  }
  for (const [thingId, td] of message.sync.upserts) {
    tds.set(thingId, td);
    rdf.upsert(thingId, td);
  }
  const { visible } = message;
  const started: StartedMessage = { id: message.id, started: true };
  if (message.language === 'jsonpath') {
    parentPort?.postMessage(started);
    return runJsonPath(
      message.query,
      visible.flatMap((thingId): TdObject[] => {
        const td = tds.get(thingId);
        return td ? [td] : [];
      }),
    );
  }
  const seesAll = visible.length >= tds.size && visible.every((thingId) => tds.has(thingId));
  return runSparql(message.query, message.accept, () => {
    const dataset = rdf.dataset(
      visible,
      seesAll,
      (warning) => warnings.push(warning),
      (done, total) => parentPort?.postMessage({ id: message.id, converting: { done, total } } satisfies ProgressMessage),
    );
    parentPort?.postMessage(started);
    return dataset;
  });
}

parentPort?.on('message', (message: QueryMessage) => {
  const warnings: string[] = [];
  let reply: AnswerMessage;
  try {
    reply = { id: message.id, ...answer(message, warnings), warnings };
  } catch (error) {
    reply = {
      id: message.id,
      ok: false,
      problem: { status: 500, title: 'Internal Server Error', detail: 'The hub failed to run this search; the error was logged.' },
      warnings: [...warnings, `search failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`],
    };
  }
  parentPort?.postMessage(reply);
});
