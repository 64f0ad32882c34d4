// What a connection goes through before it is authenticated: a bound on connections that have not
// authenticated yet (aedes' connect timeout closes the idle ones). Failed authentications are the
// core's AuthFailures (rate-limited warnings and a growing delay, as on the HTTP port).

import type { Socket } from 'node:net';
import type { Logger } from 'pino';

/** At most one warning about closed excess connections per this interval. */
const OVERFLOW_LOG_INTERVAL_MS = 5000;

/** Sockets accepted but not authenticated yet; beyond `max` a new one is closed at once. */
export class PendingConnections {
  private readonly pending = new Set<Socket>();
  private closedSinceLog = 0;
  private loggedAt = -Infinity;

  constructor(
    private readonly max: number,
    private readonly logger: Logger,
  ) {}

  /** Admits a new socket, or closes it (false) when `max` sockets are still waiting to authenticate. */
  admit(socket: Socket): boolean {
    if (this.pending.size >= this.max) {
      this.closedSinceLog++;
      if (Date.now() - this.loggedAt >= OVERFLOW_LOG_INTERVAL_MS) {
        this.logger.warn(
          { remote: socket.remoteAddress, closed: this.closedSinceLog, max: this.max },
          'mqtt: too many connections waiting to authenticate; closed new ones',
        );
        this.loggedAt = Date.now();
        this.closedSinceLog = 0;
      }
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
