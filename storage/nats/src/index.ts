// @twinhub/storage-nats: the BucketStore backend for cluster mode, on NATS JetStream.
export { NatsStore, type NatsStoreOptions } from './store.js';
