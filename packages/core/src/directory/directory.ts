// The twin directory: registered TDs in memory (sorted by Thing ID, indexed by agent, @type, tag
// and title) and their storage records. It decides what a registration means (create vs replace,
// owner, version); the hub persists what it returns and announces the change. Listings run through
// the query engine (query/), which plans over these indexes.

import { randomUUID } from 'node:crypto';
import type { BucketStore } from '@twinhub/bucket';
import type { TwinQuery } from '../model/operations.js';
import type { Client, ThingDescription, Twin } from '../model/types.js';
import { badRequest, HubError, notFound, preconditionFailed, tooManyRequests } from '../model/errors.js';
import type { HubLimits } from '../model/hub-api.js';
import { runQuery, type QueryOptions, type QueryResult } from '../query/engine.js';
import type { TwinIndexes } from '../query/planner.js';

const insufficientStorage = (detail: string) => new HubError(507, 'Insufficient Storage', detail);
import { checkThingId } from '../td/index.js';

export { checkCount, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT } from '../query/engine.js';

export const TWINS_BUCKET = 'twins';

export interface Registration {
  twin: Twin;
  created: boolean;
}

/**
 * The expiry a registrant asked for in the TD's `registration` (WoT Discovery §6.2): `ttl` seconds
 * from now, or an absolute `expires`. [tdd-registrationinfo-vocab-expires] With `ttl` present the
 * registrant's `expires` is ignored and computed. `created`, `modified` and `retrieved` are the
 * directory's to set: the registrant's are ignored.
 */
export function requestedExpiry(td: ThingDescription, now: string): { expires?: string; ttl?: number } {
  const registration = td.registration;
  if (registration === undefined) return {};
  if (registration === null || typeof registration !== 'object' || Array.isArray(registration)) {
    throw badRequest('registration must be an object (WoT Discovery registration information)', [{ pointer: '/registration', message: 'must be an object' }]);
  }
  const { ttl, expires } = registration as { ttl?: unknown; expires?: unknown };
  if (ttl !== undefined) {
    if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl <= 0 || ttl > MAX_TTL_SECONDS) {
      const message = `must be a number of seconds above 0 and at most ${MAX_TTL_SECONDS}`;
      throw badRequest(`registration.ttl ${message}`, [{ pointer: '/registration/ttl', message }]);
    }
    return { ttl, expires: new Date(Date.parse(now) + ttl * 1000).toISOString() };
  }
  if (expires !== undefined) {
    const at = typeof expires === 'string' && /^\d{4}-\d\d-\d\dT/.test(expires) ? Date.parse(expires) : Number.NaN;
    if (Number.isNaN(at)) {
      const message = 'must be an RFC 3339 date-time';
      throw badRequest(`registration.expires ${message}`, [{ pointer: '/registration/expires', message }]);
    }
    return { expires: new Date(at).toISOString() };
  }
  return {};
}

/** Ten years: a longer ttl is a mistake, and larger numbers would overflow a date. */
const MAX_TTL_SECONDS = 10 * 365 * 24 * 3600;

/**
 * A 64-bit digest (two 32-bit halves, cyrb53's mixing) of what makes a twin's version, XORed into
 * the collection tag: order-free, so every instance agrees. Not cryptographic: it only has to change
 * when the collection does, and it runs for every twin at load (SHA-256 took 5x longer there).
 */
function twinDigest(twin: Twin): [number, number] {
  const text = `${twin.thingId}\u0000${twin.version}\u0000${twin.modified}`;
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return [h1 >>> 0, h2 >>> 0];
}

/** The @type values of a TD, as a list. */
export function typesOf(td: ThingDescription): string[] {
  const types = td['@type'];
  if (types === undefined) return [];
  return Array.isArray(types) ? types.filter((t): t is string => typeof t === 'string') : [types];
}

/** How much twin JSON stays parsed in memory by default when twins are loaded on demand. */
export const DEFAULT_TWIN_CACHE_BYTES = 64 * 1024 * 1024;

export interface TwinDirectoryOptions {
  /**
   * Load twins on demand: only the indexes stay in memory for every twin; whole twins (TD, tags)
   * are parsed from the store when first used and the least recently used are dropped once the
   * parsed ones' records exceed this many bytes (UTF-16 units of their JSON). Needs a store with
   * synchronous reads (`Bucket.getSync`: LevelDB, memory) and no other writer; otherwise, and
   * when absent, every twin stays in memory.
   */
  cacheBytes?: number;
}

export class TwinDirectory {
  /**
   * The twins in memory, least recently used first. Every twin when nothing is loaded on demand;
   * otherwise a cache over the store, holding at least the pinned twins (changes in flight).
   */
  private readonly twins = new Map<string, Twin>();
  /** Reads a twin record back from the store, when twins are loaded on demand. */
  private read: ((thingId: string) => string | undefined) | undefined;
  /** Bytes (the `bytes` sizes) of the twins in `twins`. */
  private cachedBytes = 0;
  /** Twins with a change in flight (applied here, not yet stored), by count: never dropped from memory. */
  private readonly pins = new Map<string, number>();
  /** Thing IDs in ascending order: listing pages are stable. */
  private sortedIds: string[] = [];
  private readonly byAgent = new Map<string, Set<string>>();
  private readonly byType = new Map<string, Set<string>>();
  /** Tag index, keyed `<key>\u0000<value>`. Keys holding U+0000 may share an entry: harmless, the filter still runs on every candidate. */
  private readonly byTag = new Map<string, Set<string>>();
  /** Title index; a title most often names one Thing, held as its ID (a Set each would cost ~100 bytes per twin). */
  private readonly byTitle = new Map<string, string | Set<string>>();
  /** The distinct titles, sorted: a title prefix is a range of them. */
  private sortedTitles: string[] = [];
  /** Set while `load` runs: titles are sorted once at its end. */
  private loading = false;
  /** Bytes of each twin's stored JSON, per agent and in all: the TD byte budgets. */
  private readonly bytes = new Map<string, number>();
  private readonly bytesByAgent = new Map<string, number>();
  private totalBytes = 0;
  /** Expiry time (ms) of each twin whose registration expires: the purge looks only at these. */
  private readonly expiring = new Map<string, number>();
  /** XOR of every twin's digest: changes whenever any twin is added, changed or removed. */
  private readonly collectionDigest: [number, number] = [0, 0];

  constructor(private readonly options: TwinDirectoryOptions = {}) {}

  /**
   * Reads every twin record to build the indexes, handing each twin to `visit` (the one moment
   * every twin is parsed). On demand, only the first twins up to the cache budget stay parsed.
   */
  async load(store: BucketStore, visit?: (twin: Twin) => void): Promise<void> {
    const bucket = store.bucket(TWINS_BUCKET);
    const getSync = bucket.getSync;
    if (this.options.cacheBytes !== undefined && getSync !== undefined) this.read = (thingId) => getSync.call(bucket, thingId);
    const ids: string[] = [];
    this.loading = true;
    try {
      for await (const [, json] of bucket.entries()) {
        const twin = JSON.parse(json) as Twin;
        visit?.(twin);
        this.index(twin, json.length);
        if (this.read === undefined || this.cachedBytes + json.length <= this.budget) this.cache(twin);
        ids.push(twin.thingId); // the same string the indexes hold (the key is an equal copy)
      }
    } finally {
      this.loading = false;
    }
    // Store iteration is ordered by key already; sorting keeps the invariant whatever the backend.
    this.sortedIds = ids.sort();
    // Sorted once: inserting each title in order would move half the array per twin (quadratic).
    this.sortedTitles = [...this.byTitle.keys()].sort();
  }

  get size(): number {
    return this.bytes.size;
  }

  /** How many twins are parsed in memory now (all of them unless loaded on demand). */
  get cachedCount(): number {
    return this.twins.size;
  }

  /** Whether a twin of that Thing ID is registered (never reads the store). */
  has(thingId: string): boolean {
    return this.bytes.has(thingId);
  }

  /** The twin, read back from the store if it was dropped from memory; undefined when none is registered. */
  get(thingId: string): Twin | undefined {
    const twin = this.twins.get(thingId);
    if (this.read === undefined) return twin;
    if (twin !== undefined) {
      // Least recently used first: a hit moves to the end (once the cache is half full; below
      // that nothing is dropped soon, and the move costs on every read of the hot path).
      if (this.cachedBytes > this.budget / 2) {
        this.twins.delete(thingId);
        this.twins.set(thingId, twin);
      }
      return twin;
    }
    if (!this.bytes.has(thingId)) return undefined;
    const json = this.read(thingId);
    if (json === undefined)
      throw new HubError(500, 'Internal Server Error', `the record of Thing '${thingId}' is missing from the store; restart the hub to rebuild its indexes`);
    const loaded = JSON.parse(json) as Twin;
    this.cache(loaded);
    this.evict();
    return loaded;
  }

  /** The twin, or a 404 that names the missing Thing. */
  require(thingId: string | undefined): Twin {
    if (thingId === undefined) throw badRequest('this operation needs a thingId');
    const twin = this.get(thingId);
    if (!twin) throw notFound(`no Thing with id '${thingId}' is registered`);
    return twin;
  }

  /**
   * Keeps the twin in memory until the returned release is called: for a change applied to the
   * view before it is stored (the store still holds the old record, so it must not be read back).
   */
  pin(thingId: string): () => void {
    this.pins.set(thingId, (this.pins.get(thingId) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const count = (this.pins.get(thingId) ?? 1) - 1;
      if (count > 0) this.pins.set(thingId, count);
      else this.pins.delete(thingId);
      this.evict();
    };
  }

  private get budget(): number {
    return this.options.cacheBytes ?? Number.POSITIVE_INFINITY;
  }

  /** Puts a twin (last) in memory. */
  private cache(twin: Twin): void {
    this.uncache(twin.thingId);
    this.twins.set(twin.thingId, twin);
    this.cachedBytes += this.bytes.get(twin.thingId) ?? 0;
  }

  private uncache(thingId: string): void {
    if (this.twins.delete(thingId)) this.cachedBytes -= this.bytes.get(thingId) ?? 0;
  }

  /** Drops the least recently used unpinned twins until the parsed ones fit the budget. */
  private evict(): void {
    if (this.read === undefined || this.cachedBytes <= this.budget) return;
    for (const thingId of this.twins.keys()) {
      if (this.cachedBytes <= this.budget) return;
      if (!this.pins.has(thingId)) this.uncache(thingId);
    }
  }

  countOwnedBy(agentId: string): number {
    return this.byAgent.get(agentId)?.size ?? 0;
  }

  /** The agents that own at least one Thing. */
  agents(): Iterable<string> {
    return this.byAgent.keys();
  }

  /** A tag of the whole collection's state (the listing's canonical link carries it as `etag`). */
  collectionTag(): string {
    const [high, low] = this.collectionDigest;
    return `${this.bytes.size.toString(36)}-${high.toString(36)}-${low.toString(36)}`;
  }

  /** Twins whose registration expired at `nowMs` (at most `max`). */
  expired(nowMs: number, max: number): Twin[] {
    const due: Twin[] = [];
    for (const [thingId, at] of this.expiring) {
      if (at > nowMs) continue;
      const twin = this.get(thingId);
      if (twin !== undefined) due.push(twin);
      if (due.length >= max) break;
    }
    return due;
  }

  /** Adds a twin to the collection digest, or (XOR again) takes it out. */
  private mixDigest(twin: Twin): void {
    const [high, low] = twinDigest(twin);
    this.collectionDigest[0] = (this.collectionDigest[0] ^ high) >>> 0;
    this.collectionDigest[1] = (this.collectionDigest[1] ^ low) >>> 0;
  }

  /** The IDs of the Things the agent owns, sorted. */
  ownedBy(agentId: string): string[] {
    return [...(this.byAgent.get(agentId) ?? [])].sort();
  }

  /**
   * Works out the twin for a create-or-replace of `td` by `client`: the Thing ID comes from the TD
   * (must match `pathId` when both are given) or is generated; replacing needs a matching
   * `ifVersion` when one is given. Ownership is the caller's check (checkPermission with the
   * existing twin). Does not change the directory (see `put`).
   */
  prepareRegistration(
    client: Client,
    td: ThingDescription,
    options: { pathId?: string; ifVersion?: number; now: string; limits: Pick<HubLimits, 'maxThingsPerAgent' | 'maxTdBytesPerAgent' | 'maxTdBytesTotal'> },
  ): Registration {
    const registration = this.prepare(client, td, options);
    this.checkBudgets(registration.twin, options.limits);
    return registration;
  }

  /** Whether the twin fits the agent's and the directory's TD byte budgets (507 otherwise). */
  private checkBudgets(twin: Twin, limits: Pick<HubLimits, 'maxTdBytesPerAgent' | 'maxTdBytesTotal'>): void {
    const growth = sizeOf(twin) - (this.bytes.get(twin.thingId) ?? 0);
    if (growth <= 0) return;
    const agentBytes = (this.bytesByAgent.get(twin.agentId) ?? 0) + growth;
    if (agentBytes > limits.maxTdBytesPerAgent) {
      throw insufficientStorage(
        `agent '${twin.agentId}' would hold ${agentBytes} bytes of TDs; its budget is ${limits.maxTdBytesPerAgent}; delete or shrink some first`,
      );
    }
    if (this.totalBytes + growth > limits.maxTdBytesTotal) {
      throw insufficientStorage(`the directory would hold ${this.totalBytes + growth} bytes of TDs; its budget is ${limits.maxTdBytesTotal}`);
    }
  }

  private prepare(
    client: Client,
    td: ThingDescription,
    options: { pathId?: string; ifVersion?: number; now: string; limits: Pick<HubLimits, 'maxThingsPerAgent'> },
  ): Registration {
    let thingId = td.id;
    if (options.pathId !== undefined) {
      checkThingId(options.pathId);
      if (thingId !== undefined && thingId !== options.pathId) {
        throw badRequest(`the TD's id '${thingId}' differs from the Thing ID of the request '${options.pathId}'`);
      }
      thingId = options.pathId;
    }
    thingId = thingId === undefined ? `urn:uuid:${randomUUID()}` : checkThingId(thingId);
    const existing = this.get(thingId);
    if (existing) {
      if (options.ifVersion !== undefined && options.ifVersion !== existing.version) {
        throw preconditionFailed(`Thing '${thingId}' is at version ${existing.version}, not ${options.ifVersion}; re-read it and retry`);
      }
      const { expires: _expires, ttl: _ttl, ...kept } = existing;
      return {
        created: false,
        twin: { ...kept, td: { ...td, id: thingId }, modified: options.now, version: existing.version + 1, ...requestedExpiry(td, options.now) },
      };
    }
    if (options.ifVersion !== undefined && options.ifVersion !== 0) {
      throw preconditionFailed(`Thing '${thingId}' does not exist, so it cannot be at version ${options.ifVersion}`);
    }
    const max = options.limits.maxThingsPerAgent;
    if (this.countOwnedBy(client.id) >= max) throw tooManyRequests(`client '${client.id}' already registered ${max} Things, the limit; delete some first`);
    return {
      created: true,
      twin: {
        thingId,
        td: { ...td, id: thingId },
        agentId: client.id,
        created: options.now,
        modified: options.now,
        version: 1,
        tags: {},
        ...requestedExpiry(td, options.now),
      },
    };
  }

  /** Registrations, tag changes and deletes of one Thing in flight here: each waits for the one before (cluster mode). */
  private readonly writing = new Map<string, Promise<unknown>>();

  /** Runs `write` after every earlier one given for the same Thing ID has settled. */
  serially<T>(thingId: string, write: () => Promise<T>): Promise<T> {
    const previous = this.writing.get(thingId) ?? Promise.resolve();
    const run = previous.then(write, write);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.writing.set(thingId, settled);
    void settled.then(() => {
      if (this.writing.get(thingId) === settled) this.writing.delete(thingId);
    });
    return run;
  }

  /** Stores a twin in memory (after `prepareRegistration` or a tag change). */
  put(twin: Twin): void {
    const previous = this.get(twin.thingId);
    if (previous) {
      this.uncache(twin.thingId);
      this.unindex(previous);
    } else this.sortedIds.splice(this.insertionPoint(twin.thingId), 0, twin.thingId);
    this.index(twin, sizeOf(twin));
    this.cache(twin);
    this.evict();
  }

  remove(thingId: string): Twin | undefined {
    const twin = this.get(thingId);
    if (!twin) return undefined;
    this.uncache(thingId);
    this.unindex(twin);
    const at = this.insertionPoint(thingId);
    if (this.sortedIds[at] === thingId) this.sortedIds.splice(at, 1);
    return twin;
  }

  /**
   * Twins the client may see that match the query, one page of them, how many match in all, and
   * the cursor of the next page (see query/engine.ts). A page ends early once its twins reach
   * `maxPageBytes` (never empty): a listing of large TDs cannot make the hub build a response of
   * gigabytes; the next page starts after it.
   */
  list(client: Client, query: TwinQuery, options: QueryOptions): QueryResult {
    return runQuery(this.indexes, client, query, options);
  }

  /** What the query planner reads: live views of the indexes, never copies. */
  readonly indexes: TwinIndexes = {
    allIds: () => this.sortedIds,
    get: (thingId) => this.get(thingId),
    withAgent: (agentId) => this.byAgent.get(agentId) ?? EMPTY,
    withType: (type) => this.byType.get(type) ?? EMPTY,
    withTag: (key, value) => this.byTag.get(tagKey(key, value)) ?? EMPTY,
    withTitle: (title) => idsOf(this.byTitle.get(title)),
    withTitlePrefix: (prefix) => {
      const ids = new Set<string>();
      for (let i = lowerBound(this.sortedTitles, prefix); i < this.sortedTitles.length && this.sortedTitles[i].startsWith(prefix); i++) {
        for (const id of idsOf(this.byTitle.get(this.sortedTitles[i]))) ids.add(id);
      }
      return ids;
    },
    bytesOf: (thingId) => this.bytes.get(thingId) ?? 0,
  };

  private insertionPoint(thingId: string): number {
    let low = 0;
    let high = this.sortedIds.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.sortedIds[mid] < thingId) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  private index(twin: Twin, bytes: number): void {
    this.bytes.set(twin.thingId, bytes);
    this.bytesByAgent.set(twin.agentId, (this.bytesByAgent.get(twin.agentId) ?? 0) + bytes);
    this.totalBytes += bytes;
    addTo(this.byAgent, twin.agentId, twin.thingId);
    for (const type of typesOf(twin.td)) addTo(this.byType, type, twin.thingId);
    for (const [key, value] of Object.entries(twin.tags)) addTo(this.byTag, tagKey(key, value), twin.thingId);
    const title = titleOf(twin);
    if (title !== undefined) {
      if (!this.loading && !this.byTitle.has(title)) this.sortedTitles.splice(lowerBound(this.sortedTitles, title), 0, title);
      addOneTo(this.byTitle, title, twin.thingId);
    }
    if (twin.expires !== undefined) this.expiring.set(twin.thingId, Date.parse(twin.expires));
    this.mixDigest(twin);
  }

  private unindex(twin: Twin): void {
    const bytes = this.bytes.get(twin.thingId) ?? 0;
    this.bytes.delete(twin.thingId);
    const agentBytes = (this.bytesByAgent.get(twin.agentId) ?? 0) - bytes;
    if (agentBytes > 0) this.bytesByAgent.set(twin.agentId, agentBytes);
    else this.bytesByAgent.delete(twin.agentId);
    this.totalBytes -= bytes;
    removeFrom(this.byAgent, twin.agentId, twin.thingId);
    for (const type of typesOf(twin.td)) removeFrom(this.byType, type, twin.thingId);
    for (const [key, value] of Object.entries(twin.tags)) removeFrom(this.byTag, tagKey(key, value), twin.thingId);
    const title = titleOf(twin);
    if (title !== undefined) {
      removeOneFrom(this.byTitle, title, twin.thingId);
      if (!this.byTitle.has(title)) {
        const at = lowerBound(this.sortedTitles, title);
        if (this.sortedTitles[at] === title) this.sortedTitles.splice(at, 1);
      }
    }
    this.expiring.delete(twin.thingId);
    this.mixDigest(twin);
  }
}

/** The size a twin takes in the store (its record's JSON), in UTF-16 units like the loaded JSON's length. */
function sizeOf(twin: Twin): number {
  return JSON.stringify(twin).length;
}

const EMPTY: ReadonlySet<string> = new Set();

const tagKey = (key: string, value: string): string => `${key}\u0000${value}`;

const titleOf = (twin: Twin): string | undefined => (typeof twin.td.title === 'string' ? twin.td.title : undefined);

/** The first index in sorted `values` not below `value`. */
function lowerBound(values: readonly string[], value: string): number {
  let low = 0;
  let high = values.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (values[mid] < value) low = mid + 1;
    else high = mid;
  }
  return low;
}

function idsOf(entry: string | ReadonlySet<string> | undefined): ReadonlySet<string> {
  if (entry === undefined) return EMPTY;
  return typeof entry === 'string' ? new Set([entry]) : entry;
}

function addOneTo(index: Map<string, string | Set<string>>, key: string, thingId: string): void {
  const entry = index.get(key);
  if (entry === undefined) index.set(key, thingId);
  else if (typeof entry === 'string') {
    if (entry !== thingId) index.set(key, new Set([entry, thingId]));
  } else entry.add(thingId);
}

function removeOneFrom(index: Map<string, string | Set<string>>, key: string, thingId: string): void {
  const entry = index.get(key);
  if (entry === undefined) return;
  if (typeof entry === 'string') {
    if (entry === thingId) index.delete(key);
    return;
  }
  entry.delete(thingId);
  if (entry.size === 1) index.set(key, entry.values().next().value as string);
}

function addTo(index: Map<string, Set<string>>, key: string, thingId: string): void {
  let ids = index.get(key);
  if (!ids) index.set(key, (ids = new Set()));
  ids.add(thingId);
}

function removeFrom(index: Map<string, Set<string>>, key: string, thingId: string): void {
  const ids = index.get(key);
  if (!ids) return;
  ids.delete(thingId);
  if (ids.size === 0) index.delete(key);
}
