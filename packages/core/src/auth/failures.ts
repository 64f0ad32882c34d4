// Failed authentications, for every binding (REST, SSE, WebSocket upgrades, MQTT CONNECT): one warn
// line per remote address per interval, with the count since the last line and never the token,
// and a delay before the refusal that grows with repeated failures from that address. Holds a
// bounded table. Addresses are plain strings: the core still knows no transport.

import type { Logger } from 'pino';
import { NO_OBSERVER, type HubObserver } from '../model/observer.js';

/** At most one warn line per address per this interval; the next line carries the count. */
export const AUTH_FAILURE_LOG_INTERVAL_MS = 5000;
/** The second failure from an address waits this long before its 401; each further one doubles it. */
const FIRST_DELAY_MS = 100;
export const AUTH_FAILURE_MAX_DELAY_MS = 3000;
/** An address with no failure for this long starts over (no delay for its next one). */
const FORGET_AFTER_MS = 60_000;
/** Addresses remembered; beyond it the least recently failing one is forgotten (no unbounded state). */
export const MAX_TRACKED_ADDRESSES = 10_000;

interface AddressFailures {
  /** Failures since the address was last quiet for FORGET_AFTER_MS. */
  failures: number;
  lastFailureAt: number;
  loggedAt: number;
  /** Failures not yet reported in a log line. */
  unlogged: number;
}

export interface AuthFailure {
  /** The peer's address (`socket.remoteAddress`). Behind a proxy this is the proxy's. */
  remoteAddress: string;
  /** 'http', 'sse', 'ws' or 'mqtt'. */
  binding: string;
  /** Why it failed, for the log (never the token). */
  reason: string;
}

export class AuthFailures {
  /** Map order is recency order: the first key is the least recently failing address. */
  private readonly byAddress = new Map<string, AddressFailures>();

  constructor(
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
    private readonly logIntervalMs = AUTH_FAILURE_LOG_INTERVAL_MS,
    private readonly observer: Pick<HubObserver, 'authFailed'> = NO_OBSERVER,
    /** The longest wait before a refusal (0: no slowdown, e.g. behind a proxy every client shares one address). */
    private readonly maxDelayMs = AUTH_FAILURE_MAX_DELAY_MS,
  ) {}

  get trackedAddresses(): number {
    return this.byAddress.size;
  }

  /** Records a failure, logs it (rate-limited) and returns how many ms to wait before refusing. */
  record(failure: AuthFailure): number {
    this.observer.authFailed(failure.binding);
    const now = this.now();
    let entry = this.byAddress.get(failure.remoteAddress);
    if (entry === undefined || now - entry.lastFailureAt > FORGET_AFTER_MS) {
      entry = { failures: 0, lastFailureAt: now, loggedAt: -Infinity, unlogged: 0 };
    }
    this.byAddress.delete(failure.remoteAddress);
    this.byAddress.set(failure.remoteAddress, entry);
    if (this.byAddress.size > MAX_TRACKED_ADDRESSES) this.byAddress.delete(this.byAddress.keys().next().value as string);
    entry.failures += 1;
    entry.lastFailureAt = now;
    entry.unlogged += 1;
    if (now - entry.loggedAt >= this.logIntervalMs) {
      this.logger.warn(
        { remoteAddress: failure.remoteAddress, binding: failure.binding, reason: failure.reason, failures: entry.unlogged },
        'authentication failed',
      );
      entry.loggedAt = now;
      entry.unlogged = 0;
    }
    // A single mistyped token is answered at once; guessing from one address is slowed down.
    return entry.failures < 2 ? 0 : Math.min(this.maxDelayMs, FIRST_DELAY_MS * 2 ** (entry.failures - 2));
  }

  /** Records a failure and resolves once its delay has passed. */
  async refuse(failure: AuthFailure): Promise<void> {
    const delay = this.record(failure);
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
