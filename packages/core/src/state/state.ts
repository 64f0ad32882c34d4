// Twin state: the latest reported value of each property and the latest data of each event, as
// one record per property or event (so a report rewrites only what changed, and two writers of
// different properties never conflict on a store without transactions). The view in memory is
// changed only from records the store accepted: `apply` is the one path for local and remote ones.

import type { BucketStore } from '@twinhub/bucket';
import type { PendingWrite } from '../store/persist-queue.js';
import type { EventState, PropertyState, ThingDescription, TwinState } from '../model/types.js';

/** The bucket of state records. Only this module and the state handlers name it. */
export const STATE_BUCKET = 'state';

/**
 * Key layout: `<thingId>\u0001p\u0001<name>` (property) and `<thingId>\u0001e\u0001<name>` (event).
 * U+0001 can occur in neither Thing IDs nor affordance names (both refuse control characters), so
 * a prefix scan per Thing is exact. Keys without it are v1 whole-Thing records (migrated at load).
 */
const SEP = '\u0001';
type Kind = 'p' | 'e';
const stateKey = (thingId: string, kind: Kind, name: string): string => `${thingId}${SEP}${kind}${SEP}${name}`;

/** The Thing a state record belongs to. */
export const thingOfStateKey = (key: string): string => key.slice(0, key.indexOf(SEP));

/** A stored property record: the reported value, when, and the Thing's state version it made. */
interface PropertyRecord {
  value: unknown;
  updated: string;
  version: number;
}
interface EventRecord {
  data: unknown;
  time: string;
  version: number;
}

/** The names of a TD section (properties, events), own keys only. */
function ownNames(section: unknown): string[] {
  return typeof section === 'object' && section !== null ? Object.keys(section) : [];
}

/** Puts a stored record in a Thing's state; the Thing's version is its newest record's. */
function setRecord(state: ThingState, kind: Kind, name: string, record: PropertyRecord & EventRecord): void {
  state.version = Math.max(state.version, record.version);
  if (kind === 'p') state.properties.set(name, { value: record.value, updated: record.updated, version: record.version });
  else state.events.set(name, { data: record.data, time: record.time, version: record.version });
}

/** One Thing's state in memory. Maps, never plain objects: names come from TDs (`__proto__`...). */
interface ThingState {
  properties: Map<string, PropertyRecord>;
  events: Map<string, EventRecord>;
  version: number;
  /**
   * Store revision of the record applied per state key (cluster: this hub's changes and other
   * instances' arrive in slightly different orders; the highest revision is the store's value).
   */
  revisions?: Map<string, number>;
}

/** A report waiting for its store write (settled: the write ended), or a read queued behind one. */
interface OrderedStep {
  settled: boolean;
  /** Applies the report, or runs the read; undefined for a report the store refused. */
  run: (() => void) | undefined;
}

/** What apply() changed, for notifications. */
export type StateChange =
  | { kind: 'property'; thingId: string; name: string; value: unknown; time: string }
  | { kind: 'event'; thingId: string; name: string; data: unknown; time: string };

/**
 * A record saying every state record is in the per-property layout and accounted for by a TD: a
 * store with it can load state on demand, without the scan that migrates v1 records at start.
 */
export const META_BUCKET = 'meta';
const LAYOUT_KEY = 'state-layout';
const LAYOUT = { perProperty: true };

export interface TwinStateOptions {
  /**
   * Load each Thing's state on demand, keeping at most this many Things' state in memory (least
   * recently used dropped); a dropped Thing's records are read back, one per property and event
   * of its TD, when next used. Needs a store with synchronous reads and no other writer; the view
   * only ever holds records the store has, so any Thing may be dropped at any time. Absent: the
   * whole state stays in memory.
   */
  cacheThings?: number;
  /** The Thing's current TD (its affordance names are the keys of its records). */
  tdOf: (thingId: string) => ThingDescription | undefined;
}

export class TwinStateStore {
  /** The state in memory: of every Thing, or (on demand) of the most recently used, least recently used first. */
  private readonly things = new Map<string, ThingState>();
  /** Reads a state record back from the store, when state loads on demand. */
  private read: ((key: string) => string | undefined) | undefined;
  /** Set once the records are known to be in the current layout: what `startOnDemand` enables. */
  private onDemandRead: ((key: string) => string | undefined) | undefined;
  /** Versions handed out to writes not yet applied, so a burst of reports numbers them in call order. */
  private readonly nextVersions = new Map<string, number>();
  /** Per Thing, reports being stored and the reads queued behind them, in call order. */
  private readonly ordered = new Map<string, OrderedStep[]>();

  /**
   * Loads every record; returns the writes that migrate v1 whole-Thing records to per-property
   * ones and delete records no TD accounts for (a Thing gone, an affordance dropped: left behind
   * where a store has no multi-key transactions), which are also dropped from the view.
   */
  async load(store: BucketStore): Promise<PendingWrite[]> {
    const bucket = store.bucket(STATE_BUCKET);
    const getSync = bucket.getSync;
    if (this.options.cacheThings === undefined || getSync === undefined) return this.loadRecords(store);
    this.onDemandRead = (key) => getSync.call(bucket, key);
    if ((await store.bucket(META_BUCKET).get(LAYOUT_KEY)) !== undefined) return [];
    // Once: migrate and check every record, then mark the store so later starts skip the scan.
    const writes = await this.loadRecords(store);
    writes.push({ bucket: META_BUCKET, key: LAYOUT_KEY, value: LAYOUT });
    return writes;
  }

  /** After load and its checks against the TDs: from now on state loads on demand (if it can), only the budget kept. */
  startOnDemand(): void {
    if (this.onDemandRead === undefined) return;
    this.read = this.onDemandRead;
    this.evict();
  }

  constructor(private readonly options: TwinStateOptions) {}

  /** How many Things' state is in memory now. */
  get cachedCount(): number {
    return this.things.size;
  }

  /** The Thing's state in memory, read back from the store when it was dropped (undefined: none). */
  private stateOf(thingId: string): ThingState | undefined {
    const state = this.things.get(thingId);
    if (this.read === undefined) return state;
    if (state !== undefined) {
      // Least recently used first: a hit moves to the end (once the cache is half full, as in the directory).
      if (this.things.size > (this.options.cacheThings ?? Number.POSITIVE_INFINITY) / 2) {
        this.things.delete(thingId);
        this.things.set(thingId, state);
      }
      return state;
    }
    return this.readBack(thingId, this.read);
  }

  /** Reads the records of each property and event of the Thing's TD (records of no affordance are deleted with the TD change that drops it). */
  private readBack(thingId: string, read: (key: string) => string | undefined): ThingState | undefined {
    const td = this.options.tdOf(thingId);
    if (td === undefined) return undefined;
    const state: ThingState = { properties: new Map(), events: new Map(), version: 0 };
    for (const [kind, section] of [
      ['p', td.properties],
      ['e', td.events],
    ] as const) {
      for (const name of ownNames(section)) {
        const json = read(stateKey(thingId, kind, name));
        if (json !== undefined) setRecord(state, kind, name, JSON.parse(json) as PropertyRecord & EventRecord);
      }
    }
    if (state.properties.size === 0 && state.events.size === 0) return undefined;
    this.things.set(thingId, state);
    this.evict();
    return state;
  }

  /** Drops the least recently used Things' state past the budget (on demand only). */
  private evict(): void {
    if (this.read === undefined) return;
    const budget = this.options.cacheThings ?? Number.POSITIVE_INFINITY;
    for (const thingId of this.things.keys()) {
      if (this.things.size <= budget) return;
      this.things.delete(thingId);
    }
  }

  /**
   * At load, once per twin (while the directory parses it: the one moment every TD is at hand):
   * drops the records of properties and events its TD no longer has; returns their deletions.
   */
  dropStale(thingId: string, td: ThingDescription): PendingWrite[] {
    const stale = this.staleWrites(this.things.get(thingId), thingId, td);
    for (const write of stale) this.apply(write.key, undefined);
    return stale;
  }

  /** At load, after the twins: drops the records of Things with no twin; returns their deletions. */
  dropOrphans(registered: (thingId: string) => boolean): PendingWrite[] {
    const writes: PendingWrite[] = [];
    for (const thingId of [...this.things.keys()]) {
      if (registered(thingId)) continue;
      const stale = this.recordKeys(this.things.get(thingId), thingId).map((key) => ({ bucket: STATE_BUCKET, key, value: undefined }));
      for (const write of stale) this.apply(write.key, undefined);
      writes.push(...stale);
    }
    return writes;
  }

  private async loadRecords(store: BucketStore): Promise<PendingWrite[]> {
    const migration: PendingWrite[] = [];
    for await (const [key, json] of store.bucket(STATE_BUCKET).entries()) {
      if (key.includes(SEP)) {
        this.apply(key, JSON.parse(json) as object);
        continue;
      }
      const legacy = JSON.parse(json) as { properties?: Record<string, PropertyState>; events?: Record<string, EventState>; version?: number };
      const version = legacy.version ?? 0;
      for (const [name, p] of Object.entries(legacy.properties ?? {})) {
        if (!('value' in p) || p.updated === undefined) continue;
        const record: PropertyRecord = { value: p.value, updated: p.updated, version };
        migration.push({ bucket: STATE_BUCKET, key: stateKey(key, 'p', name), value: record });
      }
      for (const [name, e] of Object.entries(legacy.events ?? {})) {
        migration.push({ bucket: STATE_BUCKET, key: stateKey(key, 'e', name), value: { data: e.data, time: e.time, version } });
      }
      migration.push({ bucket: STATE_BUCKET, key, value: undefined });
    }
    for (const write of migration) if (write.value !== undefined) this.apply(write.key, write.value);
    return migration;
  }

  /**
   * Applies a report once the store accepted it, in call order with every other report and read
   * of the Thing: a read never serves a value the store may still refuse, yet sees exactly the
   * reports made before it. The store write itself still joins the group commit at once. Resolves
   * when applied; rejects (applying nothing) when the store refused it.
   */
  applyWhenStored<T>(thingId: string, stored: Promise<T>, apply: (stored: T) => void): Promise<void> {
    let steps = this.ordered.get(thingId);
    if (!steps) this.ordered.set(thingId, (steps = []));
    const step: OrderedStep = { settled: false, run: undefined };
    steps.push(step);
    return stored.then(
      (result) => {
        step.run = () => apply(result);
        step.settled = true;
        this.runSettled(thingId);
      },
      (error: unknown) => {
        step.settled = true;
        step.run = undefined;
        this.runSettled(thingId);
        throw error;
      },
    );
  }

  /** Runs `read` after the reports of the Thing made before it were applied: at once when none is in flight. */
  readInOrder<T>(thingId: string, read: () => T): T | Promise<T> {
    const steps = this.ordered.get(thingId);
    if (!steps) return read();
    return new Promise<T>((resolve, reject) => {
      steps.push({
        settled: true,
        run: () => {
          try {
            resolve(read());
          } catch (error) {
            reject(error);
          }
        },
      });
    });
  }

  /** Runs the Thing's steps from the oldest while they are settled; stops at a report still being stored. */
  private runSettled(thingId: string): void {
    const steps = this.ordered.get(thingId);
    if (!steps) return;
    while (steps.length > 0 && steps[0].settled) steps.shift()!.run?.();
    if (steps.length === 0) this.ordered.delete(thingId);
  }

  /** The Thing's state version: it grows with every reported value or event. */
  version(thingId: string): number {
    return this.stateOf(thingId)?.version ?? 0;
  }

  /** The version the Thing's state reaches once the reports already accepted are applied (conditional reports compare with it). */
  latestVersion(thingId: string): number {
    return Math.max(this.nextVersions.get(thingId) ?? 0, this.version(thingId));
  }

  reported(thingId: string, name: string): { value: unknown; updated: string } | undefined {
    return this.stateOf(thingId)?.properties.get(name);
  }

  /** The records of a report (already validated); the view changes when they are applied. */
  reportWrites(thingId: string, values: ReadonlyMap<string, unknown>, now: string): PendingWrite[] {
    const version = this.claimVersion(thingId);
    return [...values].map(([name, value]) => ({ bucket: STATE_BUCKET, key: stateKey(thingId, 'p', name), value: { value, updated: now, version } }));
  }

  eventWrite(thingId: string, name: string, data: unknown, now: string): PendingWrite {
    return { bucket: STATE_BUCKET, key: stateKey(thingId, 'e', name), value: { data, time: now, version: this.claimVersion(thingId) } };
  }

  /** Deletions of the records of properties and events the (new) TD no longer has. */
  reconcileWrites(thingId: string, td: ThingDescription): PendingWrite[] {
    return this.staleWrites(this.stateOf(thingId), thingId, td);
  }

  private staleWrites(state: ThingState | undefined, thingId: string, td: ThingDescription): PendingWrite[] {
    if (!state) return [];
    const keep = (section: unknown, name: string) => typeof section === 'object' && section !== null && Object.hasOwn(section, name);
    return [
      ...[...state.properties.keys()].filter((name) => !keep(td.properties, name)).map((name) => stateKey(thingId, 'p', name)),
      ...[...state.events.keys()].filter((name) => !keep(td.events, name)).map((name) => stateKey(thingId, 'e', name)),
    ].map((key) => ({ bucket: STATE_BUCKET, key, value: undefined }));
  }

  /** Deletions of every record of a Thing. */
  removeWrites(thingId: string): PendingWrite[] {
    return this.recordKeys(this.stateOf(thingId), thingId).map((key) => ({ bucket: STATE_BUCKET, key, value: undefined }));
  }

  private recordKeys(state: ThingState | undefined, thingId: string): string[] {
    if (!state) return [];
    return [
      ...[...state.properties.keys()].map((name) => stateKey(thingId, 'p', name)),
      ...[...state.events.keys()].map((name) => stateKey(thingId, 'e', name)),
    ];
  }

  /**
   * Applies one stored record (undefined when deleted) to the view: the only way the view changes,
   * for this hub's writes once durable and for other writers' from the change feed.
   */
  apply(key: string, stored: object | undefined, revision?: number): StateChange | undefined {
    const [thingId, kind, name] = key.split(SEP);
    if (name === undefined || (kind !== 'p' && kind !== 'e')) return undefined;
    // On demand, a Thing not in memory is read back first (the store has this record already).
    let state = this.stateOf(thingId);
    if (stored === undefined) {
      if (!state) return undefined;
      (kind === 'p' ? state.properties : state.events).delete(name);
      state.revisions?.delete(key);
      if (state.properties.size === 0 && state.events.size === 0) this.forget(thingId);
      return undefined;
    }
    if (!state) {
      this.things.set(thingId, (state = { properties: new Map(), events: new Map(), version: 0 }));
      this.evict();
    }
    const record = stored as PropertyRecord & EventRecord;
    // A record older (in the store's order) than the one applied already is not the current value:
    // the store holds the newer one, so the view keeps it too. It is still announced (with its own
    // id, like on every instance that heard it in order), and an older event is still an event.
    const stale = revision !== undefined && revision < (state.revisions?.get(key) ?? 0);
    if (revision !== undefined && !stale) (state.revisions ??= new Map()).set(key, revision);
    if (stale) state.version = Math.max(state.version, record.version);
    else setRecord(state, kind, name, record);
    return kind === 'p'
      ? { kind: 'property', thingId, name, value: record.value, time: record.updated }
      : { kind: 'event', thingId, name, data: record.data, time: record.time };
  }

  /** Forgets a Thing from the view (after its records were deleted). */
  forget(thingId: string): void {
    this.things.delete(thingId);
    this.nextVersions.delete(thingId);
  }

  /** The full state as served by readstate: reported values, events, and the desired values given. */
  snapshot(thingId: string, desired: ReadonlyMap<string, { value: unknown; at: string; requestId: string }>): TwinState {
    const state = this.stateOf(thingId);
    const properties: [string, PropertyState][] = [];
    const names = new Set([...(state?.properties.keys() ?? []), ...desired.keys()]);
    for (const name of names) {
      const reported = state?.properties.get(name);
      const wanted = desired.get(name);
      properties.push([
        name,
        {
          ...(reported ? { value: structuredClone(reported.value), updated: reported.updated } : {}),
          ...(wanted ? { desired: structuredClone(wanted.value), desiredAt: wanted.at, pendingWrite: wanted.requestId } : {}),
        },
      ]);
    }
    const events = [...(state?.events ?? [])].map(([name, e]): [string, EventState] => [name, { data: structuredClone(e.data), time: e.time }]);
    // fromEntries defines own properties, so a name such as "__proto__" stays plain data.
    return { thingId, properties: Object.fromEntries(properties), events: Object.fromEntries(events), version: this.version(thingId) };
  }

  private claimVersion(thingId: string): number {
    const next = Math.max(this.nextVersions.get(thingId) ?? 0, this.version(thingId)) + 1;
    this.nextVersions.set(thingId, next);
    return next;
  }
}
