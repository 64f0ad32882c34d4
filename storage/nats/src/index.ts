// @twinhub/storage-nats: the BucketStore backend for cluster mode, on NATS JetStream.
export type { CompactionOptions, CompactionResult } from './compaction.js';
export { NatsStore, type NatsStoreOptions, withoutCredentials } from './store.js';
