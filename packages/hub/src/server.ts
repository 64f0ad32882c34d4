// Wiring: opens the store, creates the hub, and starts, registers and closes its bindings in one loop
// (HTTP+SSE, WebSocket on the same server, MQTT embedded or external). Used by the CLI and e2e tests.

import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { BucketStore } from '@twinhub/bucket';
import { createHub, type Hub, type HubBinding } from '@twinhub/core';
import { createHttpBinding } from '@twinhub/binding-http';
import { attachWsBinding } from '@twinhub/binding-ws';
import { createMqttBinding } from '@twinhub/binding-mqtt';
import { openLevelStore } from '@twinhub/storage-level';
import { MemoryStore } from '@twinhub/storage-memory';
import type { HubConfig } from './config.js';
import { createLogger } from './logger.js';
import { publicUrls, type BindingUrls } from './public-urls.js';

export interface RunningHub {
  hub: Hub;
  /** Where this process reaches each binding (http, ws, mqtt); forms name the public URLs instead. */
  urls: BindingUrls;
  /** An admin token, only when this start created the first one. */
  firstAdminToken?: string;
  /** Graceful stop: bindings first (no new requests), then the hub flushes and closes the store. */
  close(): Promise<void>;
}

/** Opens the configured store; a damaged data folder rejects with a StoreError ('corrupt') instead of opening. */
export async function openStore(config: Pick<HubConfig, 'memory' | 'dataDir' | 'fsync'>, logger?: Logger): Promise<BucketStore> {
  if (config.memory) return new MemoryStore();
  await mkdir(config.dataDir, { recursive: true });
  return openLevelStore(config.dataDir, { sync: config.fsync, ...(logger ? { log: logger.child({ module: 'storage' }) } : {}) });
}

export async function startHub(config: HubConfig, logger: Logger = createLogger(config.logLevel)): Promise<RunningHub> {
  // A store that fails its integrity checks rejects here, before any admin token could be made.
  const hub = await createHub({
    store: await openStore(config, logger),
    logger: logger.child({ module: 'core' }),
    limits: config.limits,
    defaultRequestTtlSeconds: config.requestTtlSeconds,
    requestRetentionSeconds: config.requestRetentionSeconds,
    requestRetentionCount: config.requestRetentionCount,
  });
  if (config.bootstrapAdminToken) hub.tokens.acceptUnstored(config.bootstrapAdminToken, { id: 'admin', role: 'admin' });
  let firstAdminToken: string | undefined;
  if (!hub.tokens.hasRole('admin')) firstAdminToken = (await hub.tokens.create({ id: 'admin', role: 'admin' })).token;

  const tls = config.tlsCert && config.tlsKey ? { cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) } : undefined;
  // Filled in once every binding listens; until then each binding names its own listening URL.
  let forms: BindingUrls | undefined;
  const http = createHttpBinding({
    hub,
    logger: logger.child({ module: 'http' }),
    port: config.httpPort,
    host: config.host,
    syncActionMaxWaitSeconds: config.syncActionMaxWaitSeconds,
    publicUrl: () => forms?.http,
    maxPendingConnections: config.maxPendingConnections,
    handshakeTimeoutSeconds: config.handshakeTimeoutSeconds,
    ...(tls ? { tls } : {}),
  });
  // After the HTTP binding: the WebSocket endpoint is served by the HTTP server, started first.
  const bindings: HubBinding[] = [http, attachWsBinding({ hub, server: http.server, logger: logger.child({ module: 'ws' }), publicUrl: () => forms?.ws })];
  if (config.mqtt) {
    const external = config.mqttUrl
      ? {
          url: config.mqttUrl,
          ...(config.mqttUsername ? { username: config.mqttUsername } : {}),
          ...(config.mqttPassword ? { password: config.mqttPassword } : {}),
        }
      : undefined;
    bindings.push(
      createMqttBinding({
        hub,
        logger: logger.child({ module: 'mqtt' }),
        mode: external
          ? { external }
          : {
              embedded: {
                port: config.mqttPort,
                host: config.host,
                maxPendingConnections: config.mqttMaxPendingConnections,
                connectTimeoutMs: config.mqttConnectTimeoutSeconds * 1000,
                maxPersistentSessionsPerClient: config.mqttMaxPersistentSessions,
                sessionExpirySeconds: config.mqttSessionExpirySeconds,
                ...(tls ? { tls } : {}),
              },
            },
        publicUrl: () => forms?.mqtt,
      }),
    );
  }
  const stopAll = async (onError: (err: unknown) => void) => {
    // Reverse order: WS sockets close before their HTTP server; close() is safe on unstarted bindings.
    for (const binding of [...bindings].reverse()) await binding.close().catch(onError);
  };
  try {
    const listening: Record<string, string> = {};
    for (const binding of bindings) listening[binding.name] = (await binding.start()).url;
    const urls: BindingUrls = { http: listening.http!, ws: listening.ws!, ...(listening.mqtt ? { mqtt: listening.mqtt } : {}) };
    forms = publicUrls(config, urls);
    logger.info({ listening: urls, forms }, 'bindings started');
    // Forms are added once every binding knows its address: no twin TD is built with a guessed URL.
    for (const binding of bindings) hub.addTwinTdContributor(binding.contributor);
    let closing: Promise<void> | undefined;
    return {
      hub,
      urls,
      ...(firstAdminToken ? { firstAdminToken } : {}),
      close: () =>
        (closing ??= (async () => {
          await stopAll((err) => logger.warn({ err }, 'binding failed to stop cleanly'));
          await hub.close();
        })()),
    };
  } catch (error) {
    await stopAll(() => undefined);
    await hub.close();
    throw error;
  }
}
