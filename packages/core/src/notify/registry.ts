// One subscription registry and fan-out for all bindings. Sessions subscribe to property, event
// and directory notifications (one Thing or all visible Things, one affordance or all); the hub
// publishes each change once and the registry finds the sessions to tell. A bounded replay buffer
// lets a reconnecting SSE client resume from Last-Event-ID.

import type { NotificationMessage, NotificationOperation, OutboundMessage, UnnumberedNotification } from '../model/envelope.js';
import type { Session } from '../model/operations.js';
import type { Client } from '../model/types.js';
import { tooManyRequests } from '../model/errors.js';

export type SubscriptionKind = 'property' | 'event' | 'directory';

const ALL = '*';

export interface SubscriptionTarget {
  kind: SubscriptionKind;
  /** Omitted: every Thing the session's client may see. */
  thingId?: string;
  /** Omitted: every affordance of that kind. */
  name?: string;
}

export interface LiveSession extends Session {
  readonly send: (message: OutboundMessage) => void;
  readonly close: (reason: string) => void;
  /** Whether the binding can take more queued requests now (flow control, SessionSink.ready). */
  readonly ready: () => boolean;
  readonly subscriptions: Set<string>;
  /**
   * Queued requests pushed to this session and not acknowledged yet: the backlog sends the others.
   * A set of ids rather than a cursor over `seq`: in a cluster, requests queued by other instances
   * arrive with their own instance's numbering, so a lower `seq` can come after a higher one.
   */
  readonly sentRequests: Set<string>;
  /** True while older queued requests still wait for the send buffer to drain: new ones queue behind them. */
  backlogged: boolean;
}

interface ReplayEntry {
  message: NotificationMessage;
  /** Approximate memory held for replay (length of the data's JSON). */
  size: number;
  /** Overrides Thing visibility (deleted Things, another client's action status, agent presence). */
  audience?: (client: Client) => boolean;
  /** Sent to the audience's sessions regardless of their subscriptions (action status). */
  direct: boolean;
  view?: NotificationView;
}

/** The message as one client gets it (e.g. a twin TD as its role sees it); same seq for everyone. */
export type NotificationView = (client: Client, message: NotificationMessage) => NotificationMessage;

export interface PublishOptions {
  /** Who may see it, when Thing visibility cannot decide (the Thing is gone, or it is personal). */
  audience?: (client: Client) => boolean;
  /** Deliver to exactly these sessions instead of the subscribers. */
  onlyTo?: Iterable<LiveSession>;
  /** The store revision of the change announced (cluster mode numbers notifications with it). */
  revision?: number;
  /** Each client gets this view of the message instead of the message itself (live and on replay). */
  view?: NotificationView;
}

function keyOf(target: SubscriptionTarget): string {
  return `${target.kind}|${target.thingId ?? ALL}|${target.name ?? ALL}`;
}

function kindOf(operation: NotificationOperation): SubscriptionKind | undefined {
  switch (operation) {
    case 'observeproperty':
      return 'property';
    case 'subscribeevent':
      return 'event';
    case 'thing_created':
    case 'thing_updated':
    case 'thing_deleted':
    case 'agent_connected':
    case 'agent_disconnected':
      return 'directory';
    default:
      return undefined;
  }
}

export interface RegistryOptions {
  /** Notifications kept for replay, at most this many... */
  replayCount: number;
  /** ...and at most about this many bytes of data (values can be large: count alone does not bound memory). */
  replayBytes: number;
  maxSubscriptionsPerSession: number;
  /** Where notification ids come from (durable: they survive restarts). */
  sequence: { next(revision?: number): number; readonly current: number };
  /** Whether a client may see a Thing (its notifications included). */
  visible: (client: Client, thingId: string) => boolean;
}

/**
 * The newest notifications, oldest first, within a count and a byte bound. A ring: evicting the
 * oldest entry is O(1) (shifting an array of 10 000 entries on every publish was not).
 */
class ReplayRing {
  private readonly entries: (ReplayEntry | undefined)[];
  private head = 0;
  private length = 0;
  private bytes = 0;
  /** Every notification with a higher id is still here (ids at or below it were evicted, or came before the start). */
  coveredAfter = 0;

  constructor(
    private readonly maxCount: number,
    private readonly maxBytes: number,
  ) {
    this.entries = new Array<ReplayEntry | undefined>(Math.max(1, maxCount));
  }

  /**
   * Adds an entry in id order (cluster ids may arrive a few out of order: it moves back past the
   * newer ones), then drops the oldest ones until both bounds hold (possibly the new one too).
   */
  push(entry: ReplayEntry): void {
    if (this.length === this.entries.length) this.dropOldest();
    const size = this.entries.length;
    let at = this.length;
    while (at > 0 && this.entries[(this.head + at - 1) % size]!.message.seq > entry.message.seq) {
      this.entries[(this.head + at) % size] = this.entries[(this.head + at - 1) % size];
      at -= 1;
    }
    this.entries[(this.head + at) % size] = entry;
    this.length += 1;
    this.bytes += entry.size;
    while (this.length > 0 && (this.length > this.maxCount || this.bytes > this.maxBytes)) this.dropOldest();
  }

  *[Symbol.iterator](): IterableIterator<ReplayEntry> {
    for (let i = 0; i < this.length; i++) yield this.entries[(this.head + i) % this.entries.length]!;
  }

  private dropOldest(): void {
    this.coveredAfter = Math.max(this.coveredAfter, this.entries[this.head]!.message.seq);
    this.bytes -= this.entries[this.head]!.size;
    this.entries[this.head] = undefined;
    this.head = (this.head + 1) % this.entries.length;
    this.length -= 1;
  }
}

export class NotificationRegistry {
  private readonly byKey = new Map<string, Set<LiveSession>>();
  private readonly replay: ReplayRing;
  private readonly maxSubscriptionsPerSession: number;
  private readonly visible: RegistryOptions['visible'];
  private readonly sequence: RegistryOptions['sequence'];

  constructor(options: RegistryOptions) {
    this.maxSubscriptionsPerSession = options.maxSubscriptionsPerSession;
    this.visible = options.visible;
    this.sequence = options.sequence;
    this.replay = new ReplayRing(options.replayCount, options.replayBytes);
  }

  /** Adds a subscription; returns false if the session already had it. */
  subscribe(session: LiveSession, target: SubscriptionTarget): boolean {
    const key = keyOf(target);
    if (session.subscriptions.has(key)) return false;
    if (session.subscriptions.size >= this.maxSubscriptionsPerSession) {
      throw tooManyRequests(`this session already holds ${this.maxSubscriptionsPerSession} subscriptions, the limit; unsubscribe from some first`);
    }
    session.subscriptions.add(key);
    let sessions = this.byKey.get(key);
    if (!sessions) this.byKey.set(key, (sessions = new Set()));
    sessions.add(session);
    return true;
  }

  unsubscribe(session: LiveSession, target: SubscriptionTarget): boolean {
    const key = keyOf(target);
    if (!session.subscriptions.delete(key)) return false;
    this.removeFromKey(key, session);
    return true;
  }

  /** Removes every subscription of the session. */
  forget(session: LiveSession): void {
    for (const key of session.subscriptions) this.removeFromKey(key, session);
    session.subscriptions.clear();
  }

  /** Numbers a notification, keeps it for replay, and sends it to the sessions that should get it. */
  publish(notification: UnnumberedNotification, options: PublishOptions = {}): NotificationMessage {
    const message = { type: 'notification', ...notification, seq: this.sequence.next(options.revision) } as NotificationMessage;
    const size = JSON.stringify(message.data)?.length ?? 0;
    const { view } = options;
    this.replay.push({ message, size, audience: options.audience, direct: options.onlyTo !== undefined, view });
    const targets = options.onlyTo ? new Set(options.onlyTo) : this.subscribersOf(message, options.audience);
    for (const session of targets) session.send(view ? view(session.client, message) : message);
    return message;
  }

  /**
   * Notifications after `seq` that `who` may see (for a session: that it is subscribed to, or that
   * were sent to it directly); undefined if some were already evicted from the replay buffer.
   */
  since(seq: number, who: Client | LiveSession): NotificationMessage[] | undefined {
    if (seq >= this.sequence.current) return [];
    if (seq < this.replay.coveredAfter) return undefined;
    const session = 'subscriptions' in who ? who : undefined;
    const client = session ? session.client : (who as Client);
    const found: NotificationMessage[] = [];
    for (const { message, audience, direct, view } of this.replay) {
      if (message.seq <= seq) continue;
      if (!this.mayGet(client, message, audience)) continue;
      if (direct || !session || this.matches(session, message)) found.push(view ? view(client, message) : message);
    }
    return found;
  }

  /**
   * Sends `session` the notifications after `seq` that `target` covers and its client may see, in
   * order (a subscription resuming after a reconnect). False when some were already evicted from
   * the replay buffer: the client must re-read what it follows.
   */
  replayTo(session: LiveSession, target: SubscriptionTarget, seq: number): { replayed: number } | { reset: true } {
    const missed = this.since(seq, session.client);
    if (!missed) return { reset: true };
    const key = keyOf(target);
    const covered = missed.filter((message) => {
      const kind = kindOf(message.operation);
      return kind === target.kind && this.candidateKeys(kind, message).includes(key);
    });
    for (const message of covered) session.send(message);
    return { replayed: covered.length };
  }

  get lastSeq(): number {
    return this.sequence.current;
  }

  /** The hub loaded its records: replay covers what is announced from now on (older ids get a reset). */
  startReplayAfter(seq: number): void {
    this.replay.coveredAfter = seq;
  }

  /** Agent notifications always carry their audience; Thing notifications default to the Thing's visibility. */
  private mayGet(client: Client, message: NotificationMessage, audience: ((client: Client) => boolean) | undefined): boolean {
    if (audience) return audience(client);
    return message.thingId !== undefined && this.visible(client, message.thingId);
  }

  private matches(session: LiveSession, message: NotificationMessage): boolean {
    const kind = kindOf(message.operation);
    if (!kind) return false;
    return this.candidateKeys(kind, message).some((key) => session.subscriptions.has(key));
  }

  private candidateKeys(kind: SubscriptionKind, message: NotificationMessage): string[] {
    if (kind === 'directory' || message.thingId === undefined) return [keyOf({ kind })];
    const name = message.name ?? ALL;
    return [`${kind}|${message.thingId}|${name}`, `${kind}|${message.thingId}|${ALL}`, `${kind}|${ALL}|${ALL}`];
  }

  private subscribersOf(message: NotificationMessage, audience?: (client: Client) => boolean): Set<LiveSession> {
    const result = new Set<LiveSession>();
    const kind = kindOf(message.operation);
    if (!kind) return result;
    for (const key of this.candidateKeys(kind, message)) {
      const sessions = this.byKey.get(key);
      if (!sessions) continue;
      for (const session of sessions) {
        if (this.mayGet(session.client, message, audience)) result.add(session);
      }
    }
    return result;
  }

  private removeFromKey(key: string, session: LiveSession): void {
    const sessions = this.byKey.get(key);
    if (!sessions) return;
    sessions.delete(session);
    if (sessions.size === 0) this.byKey.delete(key);
  }
}
