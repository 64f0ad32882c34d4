// The history domain as the core uses it: records reported values and events (writes joined to
// the state record's batch), serves queries from the store, keeps the admin's policies, and prunes
// by age and count in the hub's sweeps. Memory per series: the last sample and a count, no more.

import type { Bucket, BucketStore } from '@twinhub/bucket';
import type { Logger } from 'pino';
import type { TwinDirectory } from '../directory/directory.js';
import type { TwinQuery } from '../model/operations.js';
import type { Twin } from '../model/types.js';
import type { PendingWrite, PersistQueue } from '../store/persist-queue.js';
import { STATE_BUCKET } from '../state/state.js';
import { HISTORY_BUCKET, seriesId, type SeriesKind } from './keys.js';
import { effectivePolicy, type EffectivePolicy, type HistoryDefaults, type ThingHistoryPolicy } from './policy.js';
import { aggregateSamples, parseHistoryQuery, readSamples } from './query.js';
import { sampleWrites, stateSample, type SeriesState } from './recorder.js';
import { Retention } from './retention.js';

/** The admin's policies, one record per Thing (key: the Thing ID). */
export const HISTORY_POLICY_BUCKET = 'historypolicies';

export interface HistoryServiceOptions {
  store: BucketStore;
  persist: PersistQueue;
  directory: TwinDirectory;
  log: Logger;
  now(): Date;
  defaults: HistoryDefaults;
}

const SECTION = { p: 'properties', e: 'events' } as const;

export class HistoryService {
  readonly defaults: HistoryDefaults;
  private readonly bucket: Bucket;
  private readonly policies = new Map<string, ThingHistoryPolicy>();
  /** Effective policies per twin object (a new TD is a new object), per series; dropped whole when an admin policy changes. */
  private cache = new WeakMap<Twin, Map<string, EffectivePolicy>>();
  private readonly series = new Map<string, SeriesState>();
  private readonly retention: Retention;

  constructor(private readonly options: HistoryServiceOptions) {
    this.defaults = options.defaults;
    this.bucket = options.store.bucket(HISTORY_BUCKET);
    this.retention = new Retention({
      bucket: this.bucket,
      persist: options.persist,
      series: this.series,
      now: options.now,
      policyOf: (thingId, kind, name) => {
        const twin = options.directory.get(thingId);
        const affordances = twin?.td[SECTION[kind]] as object | undefined;
        if (!twin || affordances === undefined || affordances === null || !Object.hasOwn(affordances, name)) return undefined;
        return this.policy(twin, kind, name);
      },
    });
  }

  /** Loads the admin's policies (the samples stay in the store). */
  async load(): Promise<void> {
    for await (const [thingId, json] of this.options.store.bucket(HISTORY_POLICY_BUCKET).entries()) {
      this.applyPolicyRecord(thingId, JSON.parse(json) as ThingHistoryPolicy);
    }
  }

  /**
   * The history writes for state records about to be stored (updateproperty, publishevent): one
   * sample each, or the replacement of the last one (delta sampling). Joined to the same persist
   * batch, a value and its history are stored together or not at all.
   */
  recordState(thingId: string, writes: readonly PendingWrite[]): PendingWrite[] {
    if (!this.defaults.enabled) return [];
    const twin = this.options.directory.get(thingId);
    if (!twin) return [];
    const out: PendingWrite[] = [];
    for (const write of writes) {
      if (write.bucket !== STATE_BUCKET || write.value === undefined) continue;
      // A state key is `<thingId>\u0001<p|e>\u0001<name>`: the series id itself.
      const kind = write.key.charAt(thingId.length + 1);
      if (kind !== 'p' && kind !== 'e') continue;
      const name = write.key.slice(thingId.length + 3);
      const policy = this.policy(twin, kind, name);
      if (!policy.enabled) continue;
      const sample = stateSample(kind, write.value);
      if (!sample) continue;
      let state = this.series.get(write.key);
      if (!state) this.series.set(write.key, (state = {}));
      out.push(...sampleWrites(state, write.key, policy, sample.value, sample.time, Date.parse(sample.time)));
    }
    return out;
  }

  /** The policy a property's or event's history is recorded and pruned with. */
  policy(twin: Twin, kind: SeriesKind, name: string): EffectivePolicy {
    let policies = this.cache.get(twin);
    if (!policies) this.cache.set(twin, (policies = new Map()));
    const key = `${kind}${name}`;
    let policy = policies.get(key);
    if (!policy) {
      const onInvalid = (detail: string) => this.options.log.warn({ thingId: twin.thingId, name, detail }, 'ignoring an invalid twinhub:history annotation');
      policy = effectivePolicy(this.defaults, twin, this.policies.get(twin.thingId), kind, name, onInvalid);
      policies.set(key, policy);
    }
    return policy;
  }

  /** The admin's policy document of a Thing (empty when none). */
  adminPolicy(thingId: string): ThingHistoryPolicy {
    return this.policies.get(thingId) ?? {};
  }

  /** Stores an admin's policy document (empty: deleted), then applies it. */
  async setAdminPolicy(thingId: string, policy: ThingHistoryPolicy): Promise<void> {
    const value = Object.keys(policy).length === 0 ? undefined : policy;
    await this.options.persist.write([{ bucket: HISTORY_POLICY_BUCKET, key: thingId, value }]);
    this.applyPolicyRecord(thingId, value);
  }

  /** Applies a stored policy record (undefined: deleted): the one path for the hub's own and (later) other writers' records. */
  applyPolicyRecord(thingId: string, policy: ThingHistoryPolicy | undefined): void {
    if (policy === undefined) this.policies.delete(thingId);
    else this.policies.set(thingId, policy);
    this.cache = new WeakMap();
  }

  /**
   * A page of samples or of aggregates of one property or event. `schema` is the values' data
   * schema: numeric aggregates of values declared as something else than numbers are refused.
   */
  async query(
    twin: Twin,
    kind: SeriesKind,
    name: string,
    schema: Record<string, unknown> | undefined,
    query: TwinQuery | undefined,
  ): Promise<Record<string, unknown>> {
    const series = seriesId(twin.thingId, kind, name);
    const parsed = parseHistoryQuery(query, series, numericSchema(schema));
    // A Thing deleted and registered again starts a new history: samples of its earlier life,
    // not yet pruned by retention, are never served.
    const born = Date.parse(twin.created);
    if (parsed.fromMs === undefined || parsed.fromMs < born) parsed.fromMs = born;
    return parsed.every ? aggregateSamples(this.bucket, series, parsed) : readSamples(this.bucket, series, kind, parsed);
  }

  /** One retention run (a task of the hub's sweeps). */
  sweep(): Promise<void> {
    return this.retention.sweep();
  }
}

/** Whether a data schema declares numbers: true (number/integer), false (another type), undefined (no type: anything). */
function numericSchema(schema: Record<string, unknown> | undefined): boolean | undefined {
  const type = schema?.type;
  if (type === undefined) return undefined;
  const types = Array.isArray(type) ? type : [type];
  return types.some((t) => t === 'number' || t === 'integer');
}
