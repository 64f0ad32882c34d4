// Builds the core's domains over one store: persistence (group commit), the notification
// registry with its durable sequence, sessions (announcing presence changes), requests, directory,
// state, tokens and the twin TD cache. The Hub facade (hub.ts) runs operations over what this returns.

import { pino, type Logger } from 'pino';
import type { BucketStore } from '@twinhub/bucket';
import { canSee, PERMISSIONS } from './auth/permissions.js';
import { TokenService } from './auth/tokens.js';
import type { HubCore } from './core-context.js';
import { DEFAULT_TWIN_CACHE_BYTES, TwinDirectory } from './directory/directory.js';
import { DEFAULT_LIMITS, type HubLimits, type TwinTdContributor } from './model/hub-api.js';
import { NO_OBSERVER, type HubObserver } from './model/observer.js';
import type { Client, Role, ThingDescription, Twin } from './model/types.js';
import type { Operation } from './model/operations.js';
import { purgeExpiredRegistrations } from './directory/handlers.js';
import { JobService } from './jobs/service.js';
import { DEFAULT_SCAN_LIMIT } from './query/engine.js';
import { DEFAULT_HISTORY, type HistoryDefaults } from './history/policy.js';
import { HistoryService } from './history/service.js';
import { NotificationRegistry } from './notify/registry.js';
import { NotificationSequence, RevisionNumbering, type NotificationNumbering } from './notify/sequence.js';
import { REQUESTS_BUCKET } from './requests/queue.js';
import { RequestService } from './requests/service.js';
import { SessionRegistry } from './sessions/registry.js';
import { TwinStateStore } from './state/state.js';
import { announcePresence } from './presence/presence.js';
import { ClusterMembership, SoloMembership, type ClusterOptions, type Membership } from './cluster/membership.js';
import { PersistQueue } from './store/persist-queue.js';
import { StoreReadiness } from './store/readiness.js';
import { buildTwinTd, restrictForms } from './td/index.js';

export interface HubOptions {
  /** Where everything is kept. The hub owns it from now on and closes it in `close()`. */
  store: BucketStore;
  logger?: Logger;
  limits?: Partial<HubLimits>;
  /** How long a queued request waits for its agent before it expires (default one day). */
  defaultRequestTtlSeconds?: number;
  /** How long ended requests stay queryable (default one day), and how many at most (default 10 000). */
  requestRetentionSeconds?: number;
  requestRetentionCount?: number;
  /** How often expired requests and expired registrations are looked for (default 1 s). */
  expiryIntervalMs?: number;
  /** Notifications kept for resumption (SSE Last-Event-ID): at most this many (default 10 000)... */
  replayBufferSize?: number;
  /** ...within about this many bytes of notification data (default 8 MiB). */
  replayBufferBytes?: number;
  /**
   * Bytes of twin records kept parsed in memory (least recently used dropped, read back from the
   * store on use); default DEFAULT_TWIN_CACHE_BYTES. Ignored in cluster mode and on stores without
   * synchronous reads, which keep every twin in memory.
   */
  twinCacheBytes?: number;
  /**
   * Keep every twin and all state in memory, as cluster mode does: for a store that other writers
   * share without cluster mode (the change-feed tests). Twins loaded on demand would be read back
   * newer than the view the change feed keeps.
   */
  keepAllInMemory?: boolean;
  /** Readiness writes a probe record to the store at most this often (default 5 s); asking more often reuses the last outcome. */
  readinessProbeIntervalMs?: number;
  /** Fleet jobs: requests queued per store batch (default 500), open jobs at most (default 100), ended jobs kept (default 7 days, 1000). */
  jobs?: { sliceSize?: number; maxOpenJobs?: number; retentionSeconds?: number; retentionCount?: number };
  /** The clock (tests). */
  now?: () => Date;
  /** Twin queries: candidates one listing request evaluates at most (default 100 000); a query past it says it stopped early. */
  queryScanLimit?: number;
  /** Value history defaults (docs/history.md): on, 30 days, 10 000 samples per property or event. */
  history?: Partial<HistoryDefaults>;
  /** Told of persist batches and notifications sessions did not get (metrics); default: nobody. */
  observer?: Pick<HubObserver, 'persistBatch' | 'notificationDropped'>;
  /** Cluster mode: this hub is one of several instances sharing the store (docs/cluster.md). */
  cluster?: ClusterOptions;
}

/** Whether a role may use a form operation: the permission table decides (an operation it does not know is kept). */
function roleMayUse(role: Role): (op: string) => boolean {
  return (op) => !Object.hasOwn(PERMISSIONS, op) || PERMISSIONS[op as Operation].includes(role);
}

/**
 * Twin TDs built on first use, cached per twin object, rebuilt for all when a binding adds its
 * forms. A client gets the view of its role: forms only for the operations that role may use.
 */
export class TwinTds {
  private readonly contributors: TwinTdContributor[] = [];
  private cache = new WeakMap<Twin, ThingDescription>();
  private views = new WeakMap<Twin, Map<Role, ThingDescription>>();

  /** The full twin TD (every operation), or the one `client`'s role sees. */
  readonly get = (twin: Twin, client?: Client): ThingDescription => {
    let td = this.cache.get(twin);
    if (!td) this.cache.set(twin, (td = buildTwinTd(twin, this.contributors)));
    if (!client) return td;
    let views = this.views.get(twin);
    if (!views) this.views.set(twin, (views = new Map()));
    let view = views.get(client.role);
    if (!view) views.set(client.role, (view = restrictForms(td, roleMayUse(client.role))));
    return view;
  };

  addContributor(contributor: TwinTdContributor): void {
    this.contributors.push(contributor);
    this.cache = new WeakMap();
    this.views = new WeakMap();
  }
}

/** The hub's periodic work (request expiry and retention, expired registrations, due jobs, history retention), one timer for all. */
export class Sweeps {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  /**
   * `onStop`: background work the tasks started stops with the sweeps (jobs queuing).
   * `membership`: in a cluster, only the instance holding the sweep lease runs them; it starts and
   * stops with the sweeps.
   */
  constructor(
    private readonly tasks: readonly (() => Promise<void>)[],
    private readonly onStop: () => void = () => undefined,
    private readonly membership: Membership = new SoloMembership(),
    private readonly log: Logger = pino({ level: 'silent' }),
  ) {}

  /** Sweeps now, then every `intervalMs` until stop(). */
  async start(intervalMs: number): Promise<void> {
    this.membership.start();
    await this.run();
    this.timer = setInterval(() => void this.run(), intervalMs);
    this.timer.unref();
  }

  /** Stops sweeping, waits for a sweep still running, and (cluster) leaves the cluster: its agents and the lease are released. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.onStop();
    await this.running;
    await this.membership.stop();
  }

  /** One sweep; a sweep still running is joined, not started twice. A failing task is logged, never thrown (the timer calls this). */
  run(): Promise<void> {
    this.running ??= (async () => {
      if (!(await this.membership.lead())) return;
      for (const task of this.tasks) {
        try {
          await task();
        } catch (error) {
          this.log.error({ err: error }, 'a sweep failed; it runs again at the next interval');
        }
      }
    })().finally(() => (this.running = undefined));
    return this.running;
  }
}

export interface ComposedCore {
  core: HubCore;
  tokens: TokenService;
  sequence: NotificationNumbering;
  twinTds: TwinTds;
  readiness: StoreReadiness;
  sweeps: Sweeps;
}

export function composeCore(options: HubOptions): ComposedCore {
  const twinTds = new TwinTds();
  const log = options.logger ?? pino({ level: 'silent' });
  const now = options.now ?? (() => new Date());
  const limits: HubLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const observer = options.observer ?? NO_OBSERVER;
  const persist = new PersistQueue(options.store, log, observer);
  // Twins on demand (indexes in memory, TDs read back from the store) unless other writers share
  // the store: their changes would reach the store before the view (cluster mode keeps all).
  const onDemand = !options.cluster && options.keepAllInMemory !== true;
  const directory = new TwinDirectory(onDemand ? { cacheBytes: options.twinCacheBytes ?? DEFAULT_TWIN_CACHE_BYTES } : {});
  // Alone or one of a cluster; a cluster member learns of sessions and requests through callbacks
  // (the domains below are declared after it, and called only once the hub runs).
  const cluster = options.cluster
    ? new ClusterMembership(
        {
          store: options.store,
          log,
          now,
          presenceChanged: (agentId, revision) => sessions.presenceChanged(agentId, revision),
          deliveryGained: (agentId) => requests.resumeAgent(agentId),
          localReceiver: (agentId) => sessions.localReceiver(agentId),
          localAgents: () => [...sessions.receivingAgents()],
        },
        options.cluster,
      )
    : undefined;
  const membership: Membership = cluster ?? new SoloMembership();
  const sequence: NotificationNumbering = cluster ? new RevisionNumbering(() => cluster.joinedRevision) : new NotificationSequence(persist, log);
  const notify = new NotificationRegistry({
    replayCount: options.replayBufferSize ?? 10_000,
    replayBytes: options.replayBufferBytes ?? 8 * 1024 * 1024,
    maxSubscriptionsPerSession: limits.maxSubscriptionsPerSession,
    sequence,
    visible: (client, thingId) => {
      const twin = directory.get(thingId);
      return twin !== undefined && canSee(client, twin);
    },
  });
  const sessions = new SessionRegistry({
    membership: () => membership,
    maxSessionsPerClient: limits.maxSessionsPerClient,
    log,
    now,
    observer,
    onClose: (s) => notify.forget(s),
    onPresence: (presence, revision) => announcePresence(notify, directory, presence, now().toISOString(), revision),
  });
  const requests = new RequestService({
    log,
    now,
    persist,
    notify,
    sessions,
    retentionSeconds: options.requestRetentionSeconds ?? 24 * 3600,
    retentionCount: options.requestRetentionCount ?? 10_000,
  });
  const tokens = new TokenService(persist, (clientId) => sessions.endClient(clientId, 'token revoked'), now);
  const defaultRequestTtlSeconds = options.defaultRequestTtlSeconds ?? 24 * 3600;
  // State on demand like twins (indexes and TDs: directory.ts), the budget in Things at ~1 KiB each.
  const state = new TwinStateStore({
    tdOf: (thingId) => directory.get(thingId)?.td,
    ...(onDemand ? { cacheThings: Math.floor((options.twinCacheBytes ?? DEFAULT_TWIN_CACHE_BYTES) / 1024) } : {}),
  });
  const jobs = new JobService({ now, leads: () => membership.leading, ...options.jobs });
  // A job's counters follow its requests' status changes, stored in the same batch as each change.
  requests.onStatusChange(jobs.book.requestChanged);
  const queryScanLimit = options.queryScanLimit ?? DEFAULT_SCAN_LIMIT;
  if (!Number.isInteger(queryScanLimit) || queryScanLimit < 1) throw new RangeError(`queryScanLimit must be a positive integer, got ${queryScanLimit}`);
  const history = new HistoryService({ store: options.store, persist, directory, log, now, defaults: { ...DEFAULT_HISTORY, ...options.history } });
  const core: HubCore = {
    limits,
    log,
    now,
    directory,
    state,
    requests,
    sessions,
    persist,
    notify,
    tokens,
    jobs,
    history,
    membership,
    defaultRequestTtlSeconds,
    queryScanLimit,
    twinTd: twinTds.get,
  };
  const readiness = new StoreReadiness(persist, now, options.readinessProbeIntervalMs ?? 5000);
  const sweeps = new Sweeps(
    [() => requests.sweep(), () => purgeExpiredRegistrations(core), () => jobs.sweep(core), () => history.sweep()],
    () => jobs.stop(),
    membership,
    log,
  );
  return { core, tokens, sequence, twinTds, readiness, sweeps };
}

/**
 * Loads every domain's stored records into its view, in dependency order (state and requests need
 * the twins), and writes what load found to change: v1 state records migrated, records no Thing
 * accounts for deleted.
 */
export async function loadCore(core: HubCore, tokens: TokenService, sequence: NotificationNumbering, store: BucketStore): Promise<void> {
  const { directory, state, requests, persist, log } = core;
  const started = Date.now();
  // Each step's time at debug: where a slow start-up goes, without a profiler.
  const phases: Record<string, number> = {};
  let mark = started;
  const step = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    const result = await work();
    const now = Date.now();
    phases[name] = now - mark;
    mark = now;
    return result;
  };
  await step('tokens', () => tokens.load(store));
  // State before twins: each twin's state is checked against its TD while the directory parses it
  // (twins loaded on demand are not all kept in memory afterwards).
  const migration = await step('state', () => state.load(store));
  await step('twins', () => directory.load(store, (twin) => migration.push(...state.dropStale(twin.thingId, twin.td))));
  migration.push(...state.dropOrphans((thingId) => directory.has(thingId)));
  state.startOnDemand();
  const { orphans } = await step('requests', () => requests.queue.load(store, (thingId) => directory.get(thingId)?.agentId));
  await step('cleanup', () => persist.write([...migration, ...orphans.map((r) => ({ bucket: REQUESTS_BUCKET, key: r.actionId, value: undefined }))]));
  // Jobs after requests: the first sweep (right after load) resumes interrupted and overdue ones.
  await step('jobs', () => core.jobs.book.load(store));
  await step('history', () => core.history.load());
  // Membership first: in a cluster, notification ids continue from its first heartbeat's revision.
  await step('membership', () => core.membership.load());
  await step('sequence', () => sequence.load(store));
  core.notify.startReplayAfter(sequence.current);
  log.debug({ phases }, 'hub state load steps (ms)');
  log.info({ twins: directory.size, ms: Date.now() - started }, 'hub state loaded');
}
