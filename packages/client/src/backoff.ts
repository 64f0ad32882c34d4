// Reconnect delays: capped exponential backoff with full jitter (AWS Architecture Blog, "Exponential
// Backoff and Jitter"), so a fleet of devices that lost the hub together does not come back in lockstep.

export interface BackoffOptions {
  /** First delay ceiling in ms (default 250). */
  initialMs?: number;
  /** Largest delay in ms (default 30 000). */
  maxMs?: number;
  /** Growth per attempt (default 2). */
  factor?: number;
}

/** The delay before reconnect attempt `attempt` (0-based): uniform in [0, min(max, initial·factor^attempt)]. */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const initial = options.initialMs ?? 250;
  const max = options.maxMs ?? 30_000;
  const factor = options.factor ?? 2;
  const ceiling = Math.min(max, initial * factor ** Math.min(attempt, 64));
  return Math.floor(random() * ceiling);
}
