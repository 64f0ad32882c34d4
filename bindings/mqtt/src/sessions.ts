// The MQTT sessions of the embedded broker, keyed by MQTT client id: which hub client owns each (so
// nobody takes over another's session), how many persistent (clean=false) sessions each hub client
// keeps, and when an offline persistent session expires and the broker's state for it is freed.

import type { Logger } from 'pino';

interface MqttSession {
  readonly hubClientId: string;
  /** Live connections using it (a takeover briefly has two). */
  live: number;
  /** clean=false at its last CONNECT: it outlives its connections. */
  persistent: boolean;
  offlineSince: number;
  expiry?: NodeJS.Timeout;
}

export type ClaimRefusal = 'owned-by-another-client' | 'too-many-persistent-sessions';

export interface MqttSessionOptions {
  /** Persistent sessions one hub client keeps; a new one evicts its oldest offline one. */
  maxPersistentPerClient: number;
  /** How long a persistent session lives with no connection. */
  expiryMs: number;
}

export class MqttSessions {
  private readonly sessions = new Map<string, MqttSession>();
  /** hub client id -> MQTT client ids of its persistent sessions. */
  private readonly persistentOf = new Map<string, Set<string>>();

  constructor(
    private readonly options: MqttSessionOptions,
    /** Frees the broker's state of a session (subscriptions, queued messages, will). */
    private readonly free: (mqttClientId: string) => Promise<void>,
    private readonly logger: Logger,
  ) {}

  /** At CONNECT, before the session is used. */
  claim(mqttClientId: string, hubClientId: string, clean: boolean): ClaimRefusal | undefined {
    const existing = this.sessions.get(mqttClientId);
    if (existing && existing.hubClientId !== hubClientId) return 'owned-by-another-client';
    if (!clean && !existing?.persistent && !this.makeRoom(hubClientId)) return 'too-many-persistent-sessions';
    const session = existing ?? { hubClientId, live: 0, persistent: false, offlineSince: 0 };
    clearTimeout(session.expiry);
    session.live++;
    this.setPersistent(mqttClientId, session, !clean);
    this.sessions.set(mqttClientId, session);
    return undefined;
  }

  /** A connection of the session closed (or its CONNECT was refused after claim). */
  release(mqttClientId: string): void {
    const session = this.sessions.get(mqttClientId);
    if (!session || --session.live > 0) return;
    if (!session.persistent) {
      this.sessions.delete(mqttClientId);
      return;
    }
    session.offlineSince = Date.now();
    session.expiry = setTimeout(() => this.end(mqttClientId, 'expired'), this.options.expiryMs).unref();
  }

  close(): void {
    for (const session of this.sessions.values()) clearTimeout(session.expiry);
    this.sessions.clear();
    this.persistentOf.clear();
  }

  private setPersistent(mqttClientId: string, session: MqttSession, persistent: boolean): void {
    session.persistent = persistent;
    let own = this.persistentOf.get(session.hubClientId);
    if (persistent) {
      if (!own) this.persistentOf.set(session.hubClientId, (own = new Set()));
      own.add(mqttClientId);
    } else if (own?.delete(mqttClientId) && own.size === 0) {
      this.persistentOf.delete(session.hubClientId);
    }
  }

  /** Room for one more persistent session of this client: evicts its oldest offline one if needed. */
  private makeRoom(hubClientId: string): boolean {
    const own = this.persistentOf.get(hubClientId);
    if (!own || own.size < this.options.maxPersistentPerClient) return true;
    let oldest: string | undefined;
    for (const id of own) {
      const session = this.sessions.get(id);
      if (session && session.live === 0 && (oldest === undefined || session.offlineSince < this.sessions.get(oldest)!.offlineSince)) oldest = id;
    }
    if (oldest === undefined) return false;
    this.end(oldest, 'evicted by a newer persistent session of the same client');
    return true;
  }

  private end(mqttClientId: string, reason: string): void {
    const session = this.sessions.get(mqttClientId);
    if (!session || session.live > 0) return;
    clearTimeout(session.expiry);
    this.setPersistent(mqttClientId, session, false);
    this.sessions.delete(mqttClientId);
    this.logger.debug({ mqttClientId, clientId: session.hubClientId, reason }, 'mqtt: persistent session ended');
    this.free(mqttClientId).catch((error) => this.logger.warn({ err: error, mqttClientId }, 'mqtt: could not free a persistent session'));
  }
}
