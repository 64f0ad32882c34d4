// How the cluster scenario compares a NATS setup with LevelDB: one ratio where higher is better.

/**
 * Throughput: NATS / LevelDB. Latency: LevelDB / NATS, so 0.5 means twice the latency, as it
 * means half the throughput. Undefined when either figure is missing or not positive.
 */
export function natsRatio(nats: number | undefined, level: number | undefined, kind: 'rate' | 'latency'): number | undefined {
  if (nats === undefined || level === undefined || !(nats > 0) || !(level > 0)) return undefined;
  return kind === 'rate' ? nats / level : level / nats;
}
