// The TD JSON-LD contexts the hub bundles, and a TD's @context with every context URL replaced by
// the bundled document it names: JSON-LD is turned into RDF offline, never fetching a context.

import { readFileSync } from 'node:fs';

// From dist/search/ (where this runs) the bundled files stay in src/search/contexts/: they are data,
// not compiled, and one copy serves both layouts.
const CONTEXTS_DIR = new URL('../../src/search/contexts/', import.meta.url);

function bundled(file: string): Record<string, unknown> {
  const document = JSON.parse(readFileSync(new URL(file, CONTEXTS_DIR), 'utf8')) as { '@context': Record<string, unknown> };
  return document['@context'];
}

const TD_CONTEXT = bundled('td-context-1.1.jsonld');

/** Context URLs served from the bundle. W3C serves the same file at both (see contexts/README.md). */
const BUNDLED_CONTEXTS: ReadonlyMap<string, Record<string, unknown>> = new Map([
  ['https://www.w3.org/2019/wot/td/v1', TD_CONTEXT],
  ['https://www.w3.org/2022/wot/td/v1.1', TD_CONTEXT],
]);

/**
 * `td` with its @context made self-contained: a bundled URL becomes the bundled context; any other
 * URL is never fetched and becomes an empty context, so the terms it alone defines drop out of the
 * RDF (terms of the TD context and prefixes defined inline still map). Inline context objects are
 * kept as they are. A TD without @context gets the TD 1.1 context. Nothing of `td` is modified.
 */
export function withBundledContexts(td: Record<string, unknown>): Record<string, unknown> {
  const entries = td['@context'] === undefined ? [TD_CONTEXT] : Array.isArray(td['@context']) ? td['@context'] : [td['@context']];
  const context = entries.map((entry: unknown) => (typeof entry === 'string' ? (BUNDLED_CONTEXTS.get(entry) ?? {}) : entry));
  return { ...td, '@context': context };
}

/** `td` with only the bundled contexts: the fallback when an inline context itself names a URL. */
export function withTdContextOnly(td: Record<string, unknown>): Record<string, unknown> {
  return { ...td, '@context': [TD_CONTEXT] };
}
