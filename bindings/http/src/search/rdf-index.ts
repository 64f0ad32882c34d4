// The TDs as RDF (oxigraph): one named graph per Thing (graph IRI = the Thing id), converted from
// JSON-LD only when a Thing is new or changed, and only once a SPARQL query needs it.

import { namedNode, Store, type NamedNode } from 'oxigraph';
import { withBundledContexts, withTdContextOnly } from './jsonld-contexts.js';
import type { TdObject } from './protocol.js';

/** Converted TDs between two progress reports (about 1.5 s of work at ~6 ms a TD). */
const PROGRESS_EVERY = 250;

export class TdRdfIndex {
  private readonly store = new Store();
  /** Things new or changed since their graph was built: converted on the next query. */
  private readonly pending = new Map<string, TdObject>();

  upsert(thingId: string, td: TdObject): void {
    this.pending.set(thingId, td);
  }

  delete(thingId: string): void {
    this.pending.delete(thingId);
    const graph = graphOf(thingId);
    if (graph) this.dropGraph(graph);
  }

  /**
   * The dataset a query runs on: the shared one when the client may see every Thing the index
   * holds, else a new store with copies of the visible Things' graphs alone, so no FROM, FROM NAMED
   * or GRAPH clause can reach a graph the client may not see. `warn` hears of TDs left out.
   */
  dataset(visible: readonly string[], seesAll: boolean, warn: (message: string) => void, progress: (done: number, total: number) => void = () => {}): Store {
    this.convertPending(warn, progress);
    if (seesAll) return this.store;
    const restricted = new Store();
    for (const thingId of visible) {
      const graph = graphOf(thingId);
      if (!graph) continue;
      for (const quad of this.store.match(null, null, null, graph)) restricted.add(quad);
    }
    return restricted;
  }

  /** Converts the pending TDs, each taken off the list once done: a conversion cut short keeps what it did. */
  private convertPending(warn: (message: string) => void, progress: (done: number, total: number) => void): void {
    const total = this.pending.size;
    let done = 0;
    for (const [thingId, td] of this.pending) {
      this.pending.delete(thingId);
      if (++done % PROGRESS_EVERY === 0) progress(done, total);
      const graph = graphOf(thingId);
      if (!graph) {
        warn(`Thing ${JSON.stringify(thingId)} is left out of SPARQL search: its id is not an IRI`);
        continue;
      }
      this.dropGraph(graph);
      if (this.load(td, graph, withBundledContexts)) continue;
      // An inline context that itself names a URL (scoped or imported) cannot be resolved offline:
      // the TD's own terms are still worth searching.
      if (this.load(td, graph, withTdContextOnly)) {
        warn(`Thing ${JSON.stringify(thingId)}: an inline @context names an unbundled URL; searched with the TD context alone`);
        continue;
      }
      warn(`Thing ${JSON.stringify(thingId)} is left out of SPARQL search: its TD is not valid JSON-LD`);
    }
  }

  private load(td: TdObject, graph: NamedNode, prepare: (td: TdObject) => TdObject): boolean {
    try {
      this.store.load(JSON.stringify(prepare(td)), { format: 'application/ld+json', to_graph_name: graph });
      return true;
    } catch {
      this.dropGraph(graph);
      return false;
    }
  }

  private dropGraph(graph: NamedNode): void {
    for (const quad of this.store.match(null, null, null, graph)) this.store.delete(quad);
  }
}

function graphOf(thingId: string): NamedNode | undefined {
  try {
    return namedNode(thingId);
  } catch {
    return undefined;
  }
}
