// Recognises a QoS 1/2 publish a client sends again because it missed the PUBACK (DUP=1, same
// packet id, MQTT 3.1.1 §3.3.1.1 and §4.3.2): the hub must not run it as a second request. Also
// recognises a resent envelope by its correlationId, for a resend on a new connection.

/** Whether the hub acknowledged the original (false: it failed, so a resend runs again). */
export type Acknowledged = Promise<boolean>;

/** Publishes remembered per hub client; older ones are forgotten first. */
const REMEMBERED_PER_CLIENT = 256;

export class RecentPublishes {
  /** hub client id -> key -> outcome, in insertion order (oldest first). */
  private readonly byClient = new Map<string, Map<string, Acknowledged>>();

  /**
   * The keys one publish is known by: its MQTT session and packet id, and for an envelope its
   * correlationId (unique per client by the envelope contract, so a resend on another connection or
   * with another packet id is recognised too).
   */
  static keys(mqttClientId: string, packetId: number | undefined, correlationId: string | undefined): string[] {
    const keys = packetId === undefined ? [] : [`packet\u0000${mqttClientId}\u0000${packetId}`];
    if (correlationId !== undefined) keys.push(`correlation\u0000${correlationId}`);
    return keys;
  }

  /** The outcome of the publish a resend (DUP=1) repeats, if it is still remembered. */
  original(clientId: string, keys: readonly string[]): Acknowledged | undefined {
    const recent = this.byClient.get(clientId);
    for (const key of keys) {
      const outcome = recent?.get(key);
      if (outcome) return outcome;
    }
    return undefined;
  }

  /** Remembers a publish the hub is handling; forgotten again if the hub fails it (not acknowledged). */
  remember(clientId: string, keys: readonly string[], outcome: Acknowledged): void {
    if (keys.length === 0) return;
    let recent = this.byClient.get(clientId);
    if (!recent) this.byClient.set(clientId, (recent = new Map()));
    for (const key of keys) {
      recent.delete(key); // re-inserted as the newest
      recent.set(key, outcome);
    }
    while (recent.size > REMEMBERED_PER_CLIENT) recent.delete(recent.keys().next().value as string);
    void outcome.then((acknowledged) => {
      if (acknowledged) return;
      for (const key of keys) if (recent.get(key) === outcome) recent.delete(key);
    });
  }
}
