// The recorder: turns accepted state records into history sample writes, in the same persist batch
// as the state record. Synchronous and in memory per series (the last sample only), so recording
// costs the ingest path one more record, never a store read.

import { createHash } from 'node:crypto';
import type { PendingWrite } from '../store/persist-queue.js';
import { HISTORY_BUCKET, MAX_SEQ, sampleKey, type SeriesKind } from './keys.js';
import type { EffectivePolicy } from './policy.js';

/** A stored sample: `t` when its value was reported, `v` the value (event data), `f` when the sample was opened if later values replaced it. */
export interface SampleRecord {
  t: string;
  v: unknown;
  f?: string;
}

/** What the recorder and retention know of one series. Never the history itself. */
export interface SeriesState {
  /** The newest sample this process wrote (absent after a restart until the next value). */
  last?: {
    key: string;
    /** Key time and seq (the key is time-ordered even when the clock steps back). */
    ms: number;
    seq: number;
    /** When the sample was opened (its first value), for `interval`. */
    openedMs: number;
    opened: string;
    /** The value that opened it, for `delta`: a number, or a digest of the JSON of another value. */
    anchor?: number | string;
  };
  /** Samples in the store, once retention counted them; undefined until then. */
  count?: number;
  /** Retention counting the series newest first, across runs: how many so far, and the oldest key counted. */
  counting?: { counted: number; after: string };
  /** Retention found more than maxSamples: this key and every older one go (across runs if need be). */
  excessUpTo?: string;
}

/** What a value is compared by for `delta`: numbers as such, anything else by a digest of its JSON (a sample's memory stays small). */
function anchorOf(value: unknown): number | string {
  if (typeof value === 'number') return value;
  return createHash('sha1')
    .update(JSON.stringify(value) ?? 'undefined')
    .digest('base64');
}

/**
 * Whether a value reported at `ms` replaces the last sample instead of opening a new one. Delta
 * sampling (Magistrala's twin states, by time and by value): every condition the policy sets must
 * hold — `interval`: the sample was opened less than `interval` seconds ago; `delta`: a number
 * within `delta` of the sample's opening value, any other value equal to it (same JSON). A policy
 * with neither keeps every value.
 */
function replaces(policy: EffectivePolicy, last: NonNullable<SeriesState['last']>, value: unknown, ms: number): boolean {
  if (policy.delta === undefined && policy.interval === undefined) return false;
  if (policy.interval !== undefined && ms - last.openedMs >= policy.interval * 1000) return false;
  if (policy.delta !== undefined) {
    if (last.anchor === undefined) return false;
    if (typeof value === 'number' && typeof last.anchor === 'number') return Math.abs(value - last.anchor) <= policy.delta;
    return anchorOf(value) === last.anchor;
  }
  return true;
}

/**
 * The writes that record `value` (reported at `time`) in `series`, updating `state`. A replaced
 * sample moves to the new value's time (so ranges and age retention see its latest report) and
 * keeps its opening time in `f`.
 */
export function sampleWrites(state: SeriesState, series: string, policy: EffectivePolicy, value: unknown, time: string, ms: number): PendingWrite[] {
  const last = state.last;
  if (last && replaces(policy, last, value, ms)) {
    const record: SampleRecord = { t: time, v: value, f: last.opened };
    if (ms <= last.ms) return [{ bucket: HISTORY_BUCKET, key: last.key, value: record }];
    const key = sampleKey(series, ms, 0);
    const moved: PendingWrite[] = [
      { bucket: HISTORY_BUCKET, key: last.key, value: undefined },
      { bucket: HISTORY_BUCKET, key, value: record },
    ];
    state.last = { ...last, key, ms, seq: 0 };
    return moved;
  }
  // Keys only grow within a series: a value stamped at or before the last one (same millisecond,
  // or a clock stepping back) takes the next seq of the last key's millisecond.
  let keyMs = ms;
  let seq = 0;
  if (last && ms <= last.ms) {
    keyMs = last.ms;
    seq = last.seq + 1;
    if (seq > MAX_SEQ) {
      keyMs = last.ms + 1;
      seq = 0;
    }
  }
  const key = sampleKey(series, keyMs, seq);
  state.last = { key, ms: keyMs, seq, openedMs: ms, opened: time, ...(policy.delta !== undefined ? { anchor: anchorOf(value) } : {}) };
  if (state.count !== undefined) state.count += 1;
  const record: SampleRecord = { t: time, v: value };
  return [{ bucket: HISTORY_BUCKET, key, value: record }];
}

/** The kind, value and time of a state record (`value`/`updated` of a property, `data`/`time` of an event). */
export function stateSample(kind: SeriesKind, record: object): { value: unknown; time: string } | undefined {
  const fields = record as { value?: unknown; updated?: unknown; data?: unknown; time?: unknown };
  const time = kind === 'p' ? fields.updated : fields.time;
  if (typeof time !== 'string') return undefined;
  return { value: kind === 'p' ? fields.value : fields.data, time };
}
