// Knows whether the hub is applying another instance's commit right now (cluster mode). The core
// applies the store's change feed synchronously and notifies while it does, so a notification sent
// meanwhile reports a change another instance made: on a broker several instances share, the MQTT
// mirror leaves publishing it to that instance (docs/cluster.md, "External MQTT broker").

import type { BucketStore } from '@twinhub/bucket';

export interface FeedOrigin {
  /** The store the hub is given: the same store, its change-feed listeners marked while they run. */
  readonly store: BucketStore;
  /** True while a listener handles a commit another writer made. */
  applyingFeed(): boolean;
}

export function trackFeedOrigin(store: BucketStore): FeedOrigin {
  let depth = 0;
  return {
    store: {
      bucket: (name) => store.bucket(name),
      batch: (operations) => store.batch(operations),
      close: () => store.close(),
      watch: (listener) =>
        store.watch((changes) => {
          depth += 1;
          try {
            listener(changes);
          } finally {
            depth -= 1;
          }
        }),
    },
    applyingFeed: () => depth > 0,
  };
}
