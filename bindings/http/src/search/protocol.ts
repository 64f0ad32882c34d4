// The messages between the search routes (main thread) and the search worker, and the limits that
// bound what one query may cost. Shared by both sides; no code that runs.

import type { Problem } from '@twinhub/core';

/** A query's text, at most (GET: 414 past it; POST: 413). */
export const MAX_QUERY_CHARS = 8 * 1024;
/** How long one query may run in the worker before it is terminated (answered 422). */
export const QUERY_TIMEOUT_MS = 5_000;
/**
 * Bringing the worker's copy up to date (converting new TDs to RDF, ~6 ms each) is the hub's own
 * work, not charged to the query's time limit, and may take minutes for a large directory. It
 * reports progress; a worker silent this long while preparing is stuck and restarted.
 */
export const PREPARE_STALL_MS = 60_000;
/** A query still waiting for the preparation after this long is answered 503 (retry later); the preparation goes on. */
export const PREPARE_ANSWER_MS = 20_000;
/** The largest answer body a query may produce (larger: 422, narrow the query). */
export const MAX_RESULT_BYTES = 4 * 1024 * 1024;
/** Queries waiting for the worker, at most (more: 503). */
export const MAX_QUEUED_QUERIES = 16;
/** The worker's JavaScript heap, MB: a query that grows past it kills the worker, not the hub. */
export const WORKER_HEAP_MB = 512;

export type SearchLanguage = 'jsonpath' | 'sparql';

/** Twin TDs as JSON objects; only their ids matter to the protocol. */
export type TdObject = Record<string, unknown>;

/** Changes to the worker's copy of the TDs, applied before the query runs. */
export interface MirrorSync {
  /** Things whose TD is new or changed since the worker last had them: [thingId, twin TD]. */
  upserts: [string, TdObject][];
  /** Things gone from the directory. */
  deletes: string[];
}

export interface QueryMessage {
  id: number;
  sync: MirrorSync;
  /** The Things the client may see, in listing order: the query sees these and no others. */
  visible: string[];
  language: SearchLanguage;
  query: string;
  /** The request's Accept header (SPARQL answers the registered type when asked). */
  accept: string | undefined;
}

/** What a query produced: a body to send as is, or a problem. */
export type Answer = { ok: true; contentType: string; body: string } | { ok: false; problem: Problem };

/** `warnings`: what the worker wants logged (TDs left out of the RDF, an internal failure). */
export type AnswerMessage = Answer & { id: number; warnings?: string[] };

/** Sent by the worker while it converts TDs before a query: it is alive and getting on. */
export interface ProgressMessage {
  id: number;
  converting: { done: number; total: number };
}

/** Sent by the worker once its data is ready and the query itself starts: its time limit starts now. */
export interface StartedMessage {
  id: number;
  started: true;
}

/** Built by the worker: a 400 for a query the client must fix. */
export const badQuery = (detail: string): Problem => ({ status: 400, title: 'Bad Request', detail });

/** Built by the worker: a query that would cost more than the hub allows. */
export const tooCostly = (detail: string): Problem => ({ status: 422, title: 'Unprocessable Content', detail });

export function resultTooLarge(bytes: number | undefined): Problem {
  const size = bytes === undefined ? `more than ${MAX_RESULT_BYTES}` : String(bytes);
  return tooCostly(`the result would be ${size} bytes; the limit is ${MAX_RESULT_BYTES}: narrow the query (a filter, LIMIT)`);
}
