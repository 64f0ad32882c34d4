// Test doubles for bindings' tests (subpath `@twinhub/core/testing`); not used by the hub itself.

import { Writable } from 'node:stream';
import { pino, type LevelWithSilent, type Logger } from 'pino';
import type { Bucket, BucketStore } from '@twinhub/bucket';
import type { Hub } from '../hub.js';
import type { HubApi } from '../model/hub-api.js';
import type { HubContext, HubRequest, HubResult } from '../model/operations.js';

/** A store behind a switch: while `failing`, every batch is refused as a full or broken disk would. */
export class FlakyStore {
  failing: false | 'full' | 'unavailable' = false;
  constructor(readonly inner: BucketStore) {}
  readonly store: BucketStore = {
    bucket: (name) => this.inner.bucket(name),
    watch: (listener) => this.inner.watch(listener),
    batch: (ops) => (this.failing ? Promise.reject(Object.assign(new Error(`store ${this.failing}`), { code: this.failing })) : this.inner.batch(ops)),
    close: async () => {},
  };
}

/**
 * The hub as a binding sees it, except that handle() results can be held back: the core still
 * applies each request when handle() is called, but its answer waits until released. Shows
 * whether a binding pipelines requests and answers them in order.
 */
export class HoldingHub {
  holding = false;
  calls: HubRequest[] = [];
  /** handle() calls started and not yet settled, and the most there were at once. */
  inFlight = 0;
  maxInFlight = 0;
  private held: Array<() => void> = [];

  wrap(hub: Hub): HubApi {
    return new Proxy(hub, {
      get: (target, property) => {
        if (property === 'handle') return (request: HubRequest, context: HubContext) => this.handle(target, request, context);
        const value = Reflect.get(target, property, target) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }

  release(): void {
    this.holding = false;
    for (const release of this.held.splice(0)) release();
  }

  private async handle(hub: Hub, request: HubRequest, context: HubContext): Promise<HubResult> {
    this.calls.push(request);
    this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
    const result = hub.handle(request, context);
    if (this.holding) await new Promise<void>((resolve) => this.held.push(resolve));
    const settled = await result;
    this.inFlight -= 1;
    return settled;
  }
}

/**
 * Polls `check` until it holds: it returns anything but `false` without throwing (so both
 * `() => x === 1` and `() => assert.equal(x, 1)` work). After `timeoutMs` the last assertion
 * error is thrown, or one naming `what`.
 */
export async function eventually(check: () => unknown, what = 'the condition', timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let failure: unknown;
    try {
      if ((await check()) !== false) return;
    } catch (error) {
      failure = error;
    }
    if (Date.now() > deadline) throw failure ?? new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * A pino logger whose output a test reads back as it is written: `raw` holds each line exactly as
 * written (to check that a secret never reaches the log), `records` the same lines parsed.
 */
export function captureLogs(level: LevelWithSilent = 'warn'): { logger: Logger; raw: string[]; records: Array<Record<string, unknown>> } {
  const raw: string[] = [];
  const records: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line === '') continue;
        raw.push(line);
        records.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return { logger: pino({ level }, sink), raw, records };
}

/** A store whose close() is a no-op, so a second hub can open the same records (a restart). */
export function keepOpen(store: BucketStore): BucketStore {
  return { bucket: (name) => store.bucket(name), batch: (ops) => store.batch(ops), watch: (listener) => store.watch(listener), close: async () => {} };
}

/** A view of `store` that counts the synchronous reads and the scans of one bucket (tests of loading on demand). */
export function countingReads(store: BucketStore, name: string): { store: BucketStore; syncReads: () => number; scans: () => number } {
  let syncReads = 0;
  let scans = 0;
  const counted = (inner: Bucket): Bucket =>
    Object.assign(Object.create(inner) as Bucket, {
      getSync:
        inner.getSync &&
        ((key: string) => {
          syncReads++;
          return inner.getSync?.(key);
        }),
      entries: (...args: Parameters<Bucket['entries']>) => {
        scans++;
        return inner.entries(...args);
      },
    });
  return {
    store: {
      bucket: (bucket) => (bucket === name ? counted(store.bucket(bucket)) : store.bucket(bucket)),
      batch: (ops, options) => store.batch(ops, options),
      watch: (listener) => store.watch(listener),
      close: () => store.close(),
    },
    syncReads: () => syncReads,
    scans: () => scans,
  };
}
