// NATS JetStream clusters for the cluster scenarios: real nats-server processes on loopback
// (@twinhub/storage-nats/testing), released by run.ts's cleanup whatever happens.

import { natsSkipReason, startNatsCluster } from '@twinhub/storage-nats/testing';
import { onCleanup } from './children.js';

export interface BenchNats {
  servers: string[];
  size: number;
  stop(): Promise<void>;
}

/** Why the NATS parts cannot run (nats-server is not installed), or undefined when they can. */
export function natsMissing(): string | undefined {
  const reason = natsSkipReason();
  return reason === false ? undefined : reason;
}

/** Starts `size` nats-server processes as one JetStream cluster (1: a lone server) on fresh temp folders. */
export async function startBenchNats(size: number): Promise<BenchNats> {
  const cluster = await startNatsCluster({ size });
  const stop = onCleanup(() => cluster.stop());
  return { servers: cluster.servers, size, stop };
}
