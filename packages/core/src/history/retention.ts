// Retention: a task of the hub's sweeps that walks the history bucket one series at a time (a skip
// scan: one seek per series, never a scan of everything) and deletes samples past their age or
// count, and the series of Things and affordances that are gone. Each run has a budget; the walk
// resumes where the last run stopped.

import type { Bucket, KeyRange } from '@twinhub/bucket';
import type { PersistQueue } from '../store/persist-queue.js';
import { afterSeries, HISTORY_BUCKET, parseSampleKey, seriesOfKey, seriesPrefix, timeBound, type SeriesKind } from './keys.js';
import type { EffectivePolicy } from './policy.js';
import type { SeriesState } from './recorder.js';

/** What one sweep run may do: visit this many series, delete and read this many samples. */
export interface SweepBudget {
  series: number;
  deletes: number;
  reads: number;
}

export const SWEEP_BUDGET: SweepBudget = { series: 64, deletes: 2000, reads: 20_000 };

export interface RetentionDeps {
  bucket: Bucket;
  persist: PersistQueue;
  /** Per series memory, shared with the recorder (counts live there). */
  series: Map<string, SeriesState>;
  /** The series' policy; undefined when its Thing or affordance no longer exists (the series goes). */
  policyOf(thingId: string, kind: SeriesKind, name: string): EffectivePolicy | undefined;
  now(): Date;
}

export class Retention {
  /** The series the last run finished; the next run starts after it. */
  private cursor: string | undefined;

  constructor(private readonly deps: RetentionDeps) {}

  /** One run: series after the cursor, within the budget. The walk restarts from the beginning once it reaches the end. */
  async sweep(limits: SweepBudget = SWEEP_BUDGET): Promise<void> {
    const budget = { ...limits };
    while (budget.series > 0 && budget.deletes > 0 && budget.reads > 0) {
      budget.series -= 1;
      const key = await this.firstKey(this.cursor === undefined ? {} : { gte: afterSeries(this.cursor) });
      if (key === undefined) {
        this.cursor = undefined;
        return;
      }
      const series = seriesOfKey(key);
      const sample = parseSampleKey(key);
      if (series === undefined || sample === undefined) {
        // Not a sample key (nothing writes such keys): removed so the walk never stalls on it.
        await this.deps.persist.write([{ bucket: HISTORY_BUCKET, key, value: undefined }]);
        continue;
      }
      if (await this.prune(series, sample.thingId, sample.kind, sample.name, budget)) this.cursor = series;
      else return; // out of budget within this series: the next run continues it
    }
  }

  /** Prunes one series; false when the budget ran out before it was done. */
  private async prune(series: string, thingId: string, kind: SeriesKind, name: string, budget: SweepBudget): Promise<boolean> {
    const { series: memory } = this.deps;
    const prefix = seriesPrefix(series);
    const policy = this.deps.policyOf(thingId, kind, name);
    if (policy === undefined) {
      memory.delete(series);
      return !(await this.deleteRange({ prefix }, budget)).more;
    }
    let state = memory.get(series);
    if (!state) memory.set(series, (state = {}));
    const cutoff = this.deps.now().getTime() - policy.maxAgeSeconds * 1000;
    const aged = await this.deleteRange({ prefix, lt: timeBound(series, cutoff) }, budget);
    if (aged.deleted > 0) state.counting = undefined; // a count in progress may have counted some of them: start over
    if (state.count !== undefined) state.count = Math.max(0, state.count - aged.deleted);
    if (aged.more) return false;
    if (state.count === undefined && state.excessUpTo === undefined) {
      // First visit since start: count newest first, up to maxSamples + 1, in slices of the read budget.
      const progress = state.counting ?? { counted: 0, after: undefined };
      const cap = Math.max(1, Math.min(policy.maxSamples + 1 - progress.counted, budget.reads));
      let read = 0;
      let oldest: string | undefined;
      for await (const [key] of this.deps.bucket.entries({ prefix, ...(progress.after ? { lt: progress.after } : {}), reverse: true, limit: cap })) {
        read += 1;
        oldest = key;
      }
      budget.reads -= read;
      const counted = progress.counted + read;
      state.counting = undefined;
      if (read < cap) {
        state.count = counted; // reached the oldest sample: at most maxSamples
        return true;
      }
      if (counted <= policy.maxSamples) {
        state.counting = { counted, after: oldest! };
        return false;
      }
      state.excessUpTo = oldest; // the (maxSamples + 1)-th newest: it and everything older go
    }
    if (state.excessUpTo !== undefined) {
      if ((await this.deleteRange({ prefix, lte: state.excessUpTo }, budget)).more) return false;
      state.excessUpTo = undefined;
      state.count = policy.maxSamples;
      return true;
    }
    if (state.count !== undefined && state.count > policy.maxSamples) {
      const extra = state.count - policy.maxSamples;
      // The whole series is in range: only the first `extra` keys (the oldest) go.
      const { deleted } = await this.deleteRange({ prefix }, budget, extra);
      state.count -= deleted;
      return deleted === extra;
    }
    return true;
  }

  /** Deletes the keys in `range`, oldest first, at most `max` and the budget's deletes; says how many went and whether the range holds more. */
  private async deleteRange(range: KeyRange, budget: SweepBudget, max = Number.POSITIVE_INFINITY): Promise<{ deleted: number; more: boolean }> {
    const cap = Math.min(budget.deletes, max);
    const keys: string[] = [];
    let more = false;
    for await (const [key] of this.deps.bucket.entries({ ...range, limit: cap + 1 })) {
      if (keys.length === cap) {
        more = true;
        break;
      }
      keys.push(key);
    }
    budget.reads -= keys.length;
    budget.deletes -= keys.length;
    if (keys.length > 0) await this.deps.persist.write(keys.map((key) => ({ bucket: HISTORY_BUCKET, key, value: undefined })));
    return { deleted: keys.length, more };
  }

  private async firstKey(range: KeyRange): Promise<string | undefined> {
    for await (const [key] of this.deps.bucket.entries({ ...range, limit: 1 })) return key;
    return undefined;
  }
}
