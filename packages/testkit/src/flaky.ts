// A memory store that refuses batches on demand (FlakyStore from the core's test doubles), for
// tests of what the hub does while its store fails.
import { FlakyStore } from '@twinhub/core/testing';
import { MemoryStore } from '@twinhub/storage-memory';

export function flakyMemoryStore(): FlakyStore {
  return new FlakyStore(new MemoryStore());
}
