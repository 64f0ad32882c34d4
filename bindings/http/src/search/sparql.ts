// SPARQL 1.1 queries over the TDs as RDF: sparqljs parses to tell the query form and refuse what the
// hub does not run (updates, SERVICE); oxigraph evaluates and serializes the answer.

import type { Store } from 'oxigraph';
import sparqljs from 'sparqljs';
import { badQuery, MAX_RESULT_BYTES, resultTooLarge, type Answer } from './protocol.js';

const SPARQL_RESULTS_JSON = 'application/sparql-results+json';
const parser = new sparqljs.Parser();

/** Whether a parsed query holds a SERVICE pattern anywhere (in OPTIONAL, UNION, sub-queries...). */
function usesService(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(usesService);
  if (typeof node !== 'object' || node === null) return false;
  if ((node as { type?: unknown }).type === 'service') return true;
  return Object.values(node).some(usesService);
}

/**
 * Runs `query` on the dataset `dataset()` returns (built only for a query that will run). Unless
 * the query names its graphs (FROM), the default graph is the union of the Things' graphs, so a
 * query needs no GRAPH clause.
 */
export function runSparql(query: string, accept: string | undefined, dataset: () => Store): Answer {
  let parsed: ReturnType<typeof parser.parse>;
  try {
    parsed = parser.parse(query);
  } catch (error) {
    return { ok: false, problem: badQuery(`invalid SPARQL 1.1 query: ${error instanceof Error ? error.message : String(error)}`) };
  }
  // [tdd-search-sparql-error] Anything but SELECT, ASK, CONSTRUCT, DESCRIBE (an update) is a 400.
  if (parsed.type === 'update') {
    return {
      ok: false,
      problem: badQuery('SPARQL updates (INSERT, DELETE, LOAD, CLEAR, ...) are not accepted: search only reads; send SELECT, ASK, CONSTRUCT or DESCRIBE'),
    };
  }
  // [tdd-search-sparql-federation] Federation is optional and not implemented: the hub never calls
  // another endpoint on a client's behalf.
  if (usesService(parsed)) {
    return {
      ok: false,
      problem: { status: 501, title: 'Not Implemented', detail: 'SERVICE (SPARQL 1.1 federated query) is not supported: the hub queries only its own TDs' },
    };
  }
  const graphForm = parsed.queryType === 'CONSTRUCT' || parsed.queryType === 'DESCRIBE';
  // [tdd-search-sparql-resp-select-ask] SELECT/ASK: SPARQL 1.1 Query Results JSON, served as
  // application/json unless the client asks for the registered type.
  // [tdd-search-sparql-resp-describe-construct] CONSTRUCT/DESCRIBE: JSON-LD.
  const resultsFormat = graphForm ? 'application/ld+json' : SPARQL_RESULTS_JSON;
  const contentType = graphForm ? 'application/ld+json' : accept?.toLowerCase().includes(SPARQL_RESULTS_JSON) ? SPARQL_RESULTS_JSON : 'application/json';
  let body: string;
  try {
    // A FROM / FROM NAMED clause sets the dataset itself (oxigraph's union option would override it).
    const ownDataset = 'from' in parsed && parsed.from !== undefined && parsed.from.default.length + parsed.from.named.length > 0;
    const result = dataset().query(query, { use_default_graph_as_union: !ownDataset, results_format: resultsFormat });
    body = typeof result === 'string' ? result : JSON.stringify(result);
  } catch (error) {
    return { ok: false, problem: badQuery(`the SPARQL query failed: ${error instanceof Error ? error.message : String(error)}`) };
  }
  const bytes = Buffer.byteLength(body);
  if (bytes > MAX_RESULT_BYTES) return { ok: false, problem: resultTooLarge(bytes) };
  return { ok: true, contentType, body };
}
