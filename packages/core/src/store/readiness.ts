// Whether the store takes writes, for the readiness check: the outcome of the last store batch,
// refreshed by a tiny probe record written at most once per interval however often it is asked,
// so polling readiness cannot load the disk (one small write per interval at most).

import { serviceUnavailable } from '../model/errors.js';
import type { Problem } from '../model/types.js';
import { isStoreFull, type PersistQueue } from './persist-queue.js';

/** One record, overwritten by each probe; no other code reads it (the change feed ignores its bucket). */
const PROBE = { bucket: 'health', key: 'probe' } as const;
/** A probe the store does not answer within this is a failure (a hung disk is not ready). */
const PROBE_TIMEOUT_MS = 2000;

export class StoreReadiness {
  private lastProbe = Number.NEGATIVE_INFINITY;
  private probing: Promise<void> | undefined;
  private timedOut = false;

  constructor(
    private readonly persist: PersistQueue,
    private readonly now: () => Date,
    private readonly intervalMs: number,
  ) {}

  /** undefined when the store took the latest batch; a 503 problem naming the store otherwise. */
  async check(): Promise<Problem | undefined> {
    const at = this.now().getTime();
    if (at - this.lastProbe >= this.intervalMs) {
      this.lastProbe = at;
      this.probing ??= this.probe().finally(() => (this.probing = undefined));
    }
    await this.probing;
    if (this.timedOut) return serviceUnavailable(`store: a probe write got no answer within ${PROBE_TIMEOUT_MS} ms`).problem;
    const failure = this.persist.failure;
    if (!failure) return undefined;
    // The code only: a store's message may name its folder, and this answer needs no token.
    const why = isStoreFull(failure.error) ? 'it is full' : 'it refused the last write';
    return serviceUnavailable(`store: ${why}; the hub cannot store changes until a write succeeds`).problem;
  }

  private async probe(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const written = this.persist.write([{ ...PROBE, value: { at: this.now().toISOString() } }]).then(
      () => false,
      () => false, // a refusal is recorded by the persist queue (failure)
    );
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), PROBE_TIMEOUT_MS)));
    this.timedOut = await Promise.race([written, late]);
    clearTimeout(timer);
  }
}
