// One fixture for every binding test: a hub on a memory store, the bindings a test asks for
// (started in order, forms added once all know their URLs, closed in reverse), and a token per role.
import { createHub, type Hub, type HubApi, type HubBinding, type HubLimits, type HubOptions } from '@twinhub/core';
import { MemoryStore } from '@twinhub/storage-memory';
import { createTokens, type RoleTokens } from './tokens.js';

export interface FixtureOptions<B extends readonly HubBinding[]> {
  /** Builds the bindings on the hub (as `wrap` returns it); a binding may use another (WS on the HTTP server). */
  bindings: (hub: HubApi) => B;
  limits?: Partial<HubLimits>;
  /** Stands between the bindings and the hub (e.g. HoldingHub.wrap). */
  wrap?: (hub: Hub) => HubApi;
  /** Other createHub options (clock, retention...); `store` defaults to a fresh MemoryStore. */
  hub?: Omit<HubOptions, 'store' | 'limits'> & { store?: HubOptions['store'] };
}

export interface Fixture<B extends readonly HubBinding[]> {
  hub: Hub;
  bindings: B;
  /** Where each binding listens, by binding name. */
  urls: Record<string, string>;
  tokens: RoleTokens;
  close(): Promise<void>;
}

export async function startFixture<const B extends readonly HubBinding[]>(options: FixtureOptions<B>): Promise<Fixture<B>> {
  const hub = await createHub({ ...options.hub, store: options.hub?.store ?? new MemoryStore(), ...(options.limits ? { limits: options.limits } : {}) });
  const bindings = options.bindings(options.wrap ? options.wrap(hub) : hub);
  const close = async () => {
    for (const binding of [...bindings].reverse()) await binding.close();
    await hub.close();
  };
  try {
    const urls: Record<string, string> = {};
    for (const binding of bindings) urls[binding.name] = (await binding.start()).url;
    for (const binding of bindings) hub.addTwinTdContributor(binding.contributor);
    return { hub, bindings, urls, tokens: await createTokens(hub), close };
  } catch (error) {
    await close();
    throw error;
  }
}
