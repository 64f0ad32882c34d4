// What the core and the bindings report for metrics: observer hooks, an option with no-op defaults.
// The core only calls them; who counts (prom-client, in packages/hub) is not its business.

export interface HubObserver {
  /** A group-commit batch reached the store (`ok`) or was refused, with its record count and duration. */
  persistBatch(batch: { records: number; ms: number; ok: boolean }): void;
  /** A notification did not reach a session: its sink failed, or the binding dropped the session as slow. */
  notificationDropped(binding: string): void;
  /** A client presented credentials that were refused ('http', 'sse', 'ws', 'mqtt'). */
  authFailed(binding: string): void;
  /** A binding dropped a client that did not read its messages (send buffer over its bound). */
  slowClientDropped(binding: string): void;
}

/** The default: nothing is observed. */
export const NO_OBSERVER: HubObserver = {
  persistBatch: () => undefined,
  notificationDropped: () => undefined,
  authFailed: () => undefined,
  slowClientDropped: () => undefined,
};
