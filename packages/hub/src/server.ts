// Wiring: opens the store, creates the hub, and starts, registers and closes its bindings in one loop
// (HTTP+SSE, WebSocket on the same server, MQTT embedded or external), each given the hub through
// its metrics and access-log wrapper; serves /metrics if asked. Used by the CLI and e2e tests.

import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type { Server } from 'node:net';
import { hostname } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { BucketStore } from '@twinhub/bucket';
import { createHub, type Hub, type HubBinding } from '@twinhub/core';
import { createHttpBinding } from '@twinhub/binding-http';
import { attachWsBinding } from '@twinhub/binding-ws';
import { createMqttBinding } from '@twinhub/binding-mqtt';
import { openLevelStore } from '@twinhub/storage-level';
import { MemoryStore } from '@twinhub/storage-memory';
import { NatsStore } from '@twinhub/storage-nats';
import type { HubConfig } from './config.js';
import { trackFeedOrigin } from './feed-origin.js';
import { createLogger } from './logger.js';
import { HubMetrics } from './metrics.js';
import { createMetricsServer } from './metrics-server.js';
import { observedHub } from './observed-hub.js';
import { publicUrls, type BindingUrls } from './public-urls.js';
import { readiness } from './readiness.js';

export interface RunningHub {
  hub: Hub;
  /** Where this process reaches each binding (http, ws, mqtt); forms name the public URLs instead. */
  urls: BindingUrls;
  /** The metrics endpoint's URL, when --metrics-port is set. */
  metricsUrl?: string;
  /** An admin token, only when this start created the first one. */
  firstAdminToken?: string;
  /** Graceful stop: bindings first (no new requests), then the hub flushes and closes the store. */
  close(): Promise<void>;
  /** While close() runs: what it waits for now ('binding http', 'store'...), to name it if it hangs. */
  closing(): string | undefined;
}

export interface StartOptions {
  /** Bindings started after the built-in ones and closed before them (plugins by registration). */
  bindings?: HubBinding[];
}

/** The dist folder of the installed dashboard package, or undefined when it is not installed (then /ui/ answers 503). */
export function defaultUiDir(): string | undefined {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('@twinhub/dashboard/package.json')), 'dist');
  } catch {
    return undefined;
  }
}

/**
 * The MQTT client id of this instance on a shared external broker: unique among instances (one per
 * host and HTTP port) and the same after a restart, so a restarted instance gets back the session
 * the broker kept for it. Read once the HTTP server listens (its port may have been 0).
 */
export function instanceClientId(address: ReturnType<Server['address']>): string {
  const port = address !== null && typeof address === 'object' ? address.port : 0;
  return `twinhub-${hostname()}-${port}`;
}

/**
 * Opens the configured store: NATS JetStream in cluster mode, else memory or the LevelDB data folder
 * (a damaged one rejects with a StoreError ('corrupt') instead of opening).
 */
export async function openStore(
  config: Pick<HubConfig, 'memory' | 'dataDir' | 'fsync' | 'nats' | 'natsToken' | 'natsCreds' | 'natsReplicas'>,
  logger?: Logger,
): Promise<BucketStore> {
  if (config.nats.length > 0) {
    return NatsStore.open({
      servers: config.nats,
      ...(config.natsToken !== undefined ? { token: config.natsToken } : {}),
      ...(config.natsCreds !== undefined ? { credsFile: config.natsCreds } : {}),
      ...(config.natsReplicas !== undefined ? { replicas: config.natsReplicas } : {}),
    });
  }
  if (config.memory) return new MemoryStore();
  await mkdir(config.dataDir, { recursive: true });
  return openLevelStore(config.dataDir, { sync: config.fsync, ...(logger ? { log: logger.child({ module: 'storage' }) } : {}) });
}

export async function startHub(config: HubConfig, logger: Logger = createLogger(config.logLevel), options: StartOptions = {}): Promise<RunningHub> {
  // Queue counts are read on scrape, once the hub exists.
  const metrics = new HubMetrics(() => hub.requestCounts());
  const accessLog = logger.child({ module: 'access' });
  const cluster = config.nats.length > 0;
  // A store that fails its integrity checks rejects here, before any admin token could be made.
  const feed = trackFeedOrigin(await openStore(config, logger));
  const hub = await createHub({
    observer: metrics.observer,
    store: feed.store,
    logger: logger.child({ module: 'core' }),
    limits: config.limits,
    defaultRequestTtlSeconds: config.requestTtlSeconds,
    queryScanLimit: config.queryScanLimit,
    twinCacheBytes: config.twinCacheMb * 1024 * 1024,
    requestRetentionSeconds: config.requestRetentionSeconds,
    requestRetentionCount: config.requestRetentionCount,
    history: { enabled: config.history, maxAgeSeconds: config.historyRetentionDays * 24 * 3600, maxSamples: config.historyMaxSamples },
    // On NATS the store is shared: this hub is one instance of a cluster (presence, sweep lease).
    ...(cluster ? { cluster: {} } : {}),
  });
  if (config.bootstrapAdminToken) hub.tokens.acceptUnstored(config.bootstrapAdminToken, { id: 'admin', role: 'admin' });
  let firstAdminToken: string | undefined;
  if (!hub.tokens.hasRole('admin')) firstAdminToken = (await hub.tokens.create({ id: 'admin', role: 'admin' })).token;

  const tls = config.tlsCert && config.tlsKey ? { cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) } : undefined;
  // Filled in once every binding listens; until then each binding names its own listening URL.
  let forms: BindingUrls | undefined;
  const http = createHttpBinding({
    hub: observedHub(hub, 'http', metrics, accessLog),
    logger: logger.child({ module: 'http' }),
    observer: metrics.observer,
    // Method, route pattern, status, ms, remote address: never the path (IDs, ?access_token=) or a header.
    onExchange: (exchange) => accessLog.info(exchange, 'http request'),
    port: config.httpPort,
    host: config.host,
    syncActionMaxWaitSeconds: config.syncActionMaxWaitSeconds,
    publicUrl: () => forms?.http,
    maxPendingConnections: config.maxPendingConnections,
    authFailureMaxDelayMs: config.authFailureMaxDelayMs,
    handshakeTimeoutSeconds: config.handshakeTimeoutSeconds,
    corsOrigins: config.corsOrigins,
    readiness: () => readiness(hub, bindings),
    uiDir: config.uiDir ?? defaultUiDir(),
    ...(tls ? { tls } : {}),
  });
  // After the HTTP binding: the WebSocket endpoint is served by the HTTP server, started first.
  const bindings: HubBinding[] = [
    http,
    attachWsBinding({
      hub: observedHub(hub, 'ws', metrics, accessLog),
      server: http.server,
      logger: logger.child({ module: 'ws' }),
      publicUrl: () => forms?.ws,
      corsOrigins: config.corsOrigins,
      observer: metrics.observer,
    }),
  ];
  if (config.mqtt) {
    const external = config.mqttUrl
      ? {
          url: config.mqttUrl,
          ...(config.mqttUsername ? { username: config.mqttUsername } : {}),
          ...(config.mqttPassword ? { password: config.mqttPassword } : {}),
          // Cluster mode: the instances share the broker (docs/cluster.md, "External MQTT broker").
          ...(cluster
            ? {
                clientId: () => config.mqttClientId ?? instanceClientId(http.server.address()),
                shareGroup: config.mqttShareGroup,
                sessionExpirySeconds: config.mqttShareSessionExpirySeconds,
                fromOtherInstance: feed.applyingFeed,
              }
            : config.mqttClientId !== undefined
              ? { clientId: config.mqttClientId }
              : {}),
        }
      : undefined;
    bindings.push(
      createMqttBinding({
        hub: observedHub(hub, 'mqtt', metrics, accessLog),
        logger: logger.child({ module: 'mqtt' }),
        observer: metrics.observer,
        mode: external
          ? { external }
          : {
              embedded: {
                port: config.mqttPort,
                host: config.host,
                maxPendingConnections: config.mqttMaxPendingConnections,
                authFailureMaxDelayMs: config.authFailureMaxDelayMs,
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
  bindings.push(...(options.bindings ?? []));
  const metricsServer =
    config.metricsPort === undefined ? undefined : createMetricsServer(metrics, { host: config.metricsHost, port: config.metricsPort }, logger);
  let closingPart: string | undefined;
  const stopAll = async (onError: (err: unknown) => void) => {
    closingPart = 'metrics';
    await metricsServer?.close();
    // Reverse order: WS sockets close before their HTTP server; close() is safe on unstarted bindings.
    for (const binding of [...bindings].reverse()) {
      closingPart = `binding ${binding.name}`;
      await binding.close().catch(onError);
    }
  };
  const closeHub = async () => {
    closingPart = 'store';
    await hub.close();
    closingPart = undefined;
  };
  try {
    const listening: Record<string, string> = {};
    for (const binding of bindings) listening[binding.name] = (await binding.start()).url;
    const urls: BindingUrls = { http: listening.http!, ws: listening.ws!, ...(listening.mqtt ? { mqtt: listening.mqtt } : {}) };
    forms = publicUrls(config, urls);
    const metricsUrl = await metricsServer?.start();
    logger.info({ listening: urls, forms, ...(metricsUrl ? { metrics: metricsUrl } : {}) }, 'bindings started');
    // Forms are added once every binding knows its address: no twin TD is built with a guessed URL.
    for (const binding of bindings) hub.addTwinTdContributor(binding.contributor);
    let closing: Promise<void> | undefined;
    return {
      hub,
      urls,
      ...(metricsUrl ? { metricsUrl } : {}),
      ...(firstAdminToken ? { firstAdminToken } : {}),
      close: () =>
        (closing ??= (async () => {
          await stopAll((err) => logger.warn({ err }, 'binding failed to stop cleanly'));
          await closeHub();
        })()),
      closing: () => closingPart,
    };
  } catch (error) {
    await stopAll(() => undefined);
    await closeHub();
    throw error;
  }
}
