// What a connection goes through before it is authenticated: a bound on connections that have not
// authenticated yet (aedes' connect timeout closes the idle ones), and rate-limited warnings about
// failed authentications, per remote address, that never carry the password.

import type { Socket } from 'node:net';
import type { Logger } from 'pino';

/** Sockets accepted but not authenticated yet; beyond `max` a new one is closed at once. */
export class PendingConnections {
  private readonly pending = new Set<Socket>();

  constructor(
    private readonly max: number,
    private readonly failures: AuthFailureLog,
  ) {}

  /** Admits a new socket, or closes it (false) when `max` sockets are still waiting to authenticate. */
  admit(socket: Socket): boolean {
    if (this.pending.size >= this.max) {
      this.failures.overflow(socket.remoteAddress, this.max);
      socket.destroy();
      return false;
    }
    this.pending.add(socket);
    socket.once('close', () => this.pending.delete(socket));
    return true;
  }

  authenticated(socket: Socket): void {
    this.pending.delete(socket);
  }
}

/** Remote addresses tracked at once; failures from further ones are counted under '*'. */
const MAX_TRACKED_ADDRESSES = 10_000;

interface AddressFailures {
  /** Failures since the last line logged for this address. */
  count: number;
  usernames: Set<string>;
  timer?: NodeJS.Timeout;
}

/**
 * At most one warn line per remote address per interval: the first failure is logged at once, the
 * ones after it are counted and logged together when the interval ends (with the usernames tried,
 * which are client ids, never the password).
 */
export class AuthFailureLog {
  private readonly byAddress = new Map<string, AddressFailures>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs: number,
  ) {}

  failed(address: string | undefined, username: string | undefined, reason: string): void {
    this.record(address, username, 'mqtt: authentication failed', reason);
  }

  /** A socket closed because too many connections were waiting to authenticate. */
  overflow(address: string | undefined, max: number): void {
    this.record(address, undefined, 'mqtt: too many connections waiting to authenticate; closed a new one', `more than ${max} pending`);
  }

  private record(address: string | undefined, username: string | undefined, message: string, reason: string): void {
    const key = address !== undefined && (this.byAddress.has(address) || this.byAddress.size < MAX_TRACKED_ADDRESSES) ? address : '*';
    const entry = this.byAddress.get(key);
    if (entry) {
      entry.count++;
      if (username !== undefined && entry.usernames.size < 10) entry.usernames.add(username);
      return;
    }
    this.logger.warn({ remote: key, ...(username !== undefined ? { username } : {}), reason, failures: 1 }, message);
    const fresh: AddressFailures = { count: 0, usernames: new Set() };
    this.byAddress.set(key, fresh);
    const flush = () => {
      if (fresh.count === 0) {
        this.byAddress.delete(key);
        return;
      }
      this.logger.warn({ remote: key, usernames: [...fresh.usernames], failures: fresh.count, withinMs: this.intervalMs }, `${message} (repeated)`);
      fresh.count = 0;
      fresh.usernames.clear();
      fresh.timer = setTimeout(flush, this.intervalMs).unref();
    };
    fresh.timer = setTimeout(flush, this.intervalMs).unref();
  }

  close(): void {
    for (const entry of this.byAddress.values()) clearTimeout(entry.timer);
    this.byAddress.clear();
  }
}
