// Wiring: opens the store, creates the hub, and starts the bindings on it (HTTP+SSE, WebSocket on
// the same server, MQTT embedded or external). Used by the CLI and by end-to-end tests alike.

import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { BucketStore } from '@twinhub/bucket';
import { createHub, type Hub } from '@twinhub/core';
import { createHttpBinding } from '@twinhub/binding-http';
import { attachWsBinding } from '@twinhub/binding-ws';
import { createMqttBinding } from '@twinhub/binding-mqtt';
import { openLevelStore } from '@twinhub/storage-level';
import { MemoryStore } from '@twinhub/storage-memory';
import type { HubConfig } from './config.js';
import { createLogger } from './logger.js';

export interface RunningHub {
  hub: Hub;
  /** Where each binding listens (http, ws, mqtt). */
  urls: { http: string; ws: string; mqtt?: string };
  /** An admin token, only when this start created the first one. */
  firstAdminToken?: string;
  /** Graceful stop: bindings first (no new requests), then the hub flushes and closes the store. */
  close(): Promise<void>;
}

export async function openStore(config: Pick<HubConfig, 'memory' | 'dataDir' | 'fsync'>): Promise<BucketStore> {
  if (config.memory) return new MemoryStore();
  await mkdir(config.dataDir, { recursive: true });
  return openLevelStore(config.dataDir, { sync: config.fsync });
}

export async function startHub(config: HubConfig, logger: Logger = createLogger(config.logLevel)): Promise<RunningHub> {
  const hub = await createHub({
    store: await openStore(config),
    logger: logger.child({ module: 'core' }),
    limits: config.limits,
    defaultActionTtlSeconds: config.actionTtlSeconds,
  });
  let firstAdminToken: string | undefined;
  if (!hub.tokens.hasRole('admin')) firstAdminToken = (await hub.tokens.create({ id: 'admin', role: 'admin' })).token;

  const tls = config.tlsCert && config.tlsKey ? { cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) } : undefined;
  const publicUrl = config.publicUrl === undefined ? undefined : () => config.publicUrl!;
  const http = createHttpBinding({
    hub,
    logger: logger.child({ module: 'http' }),
    syncActionMaxWaitSeconds: config.syncActionMaxWaitSeconds,
    ...(publicUrl ? { publicUrl } : {}),
    ...(tls ? { tls } : {}),
  });
  const ws = attachWsBinding({ hub, server: http.server, logger: logger.child({ module: 'ws' }), ...(publicUrl ? { publicUrl } : {}) });
  const mqtt = config.mqtt
    ? createMqttBinding({
        hub,
        logger: logger.child({ module: 'mqtt' }),
        mode: config.mqttUrl
          ? { external: { url: config.mqttUrl, ...(config.mqttUsername ? { username: config.mqttUsername } : {}), ...(config.mqttPassword ? { password: config.mqttPassword } : {}) } }
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
      })
    : undefined;
  const stops: Array<() => Promise<void>> = [];
  try {
    const { url } = await http.listen(config.httpPort, config.host);
    stops.push(() => http.close(), () => ws.close());
    const mqttUrl = mqtt ? (await mqtt.start()).url : undefined;
    if (mqtt) stops.push(() => mqtt.close());
    // Forms are added once every binding knows its address: no twin TD is built with a guessed URL.
    hub.addTwinTdContributor(http.contributor);
    hub.addTwinTdContributor(ws.contributor);
    if (mqtt) hub.addTwinTdContributor(mqtt.contributor);
    const urls = { http: url, ws: `${url.replace(/^http/, 'ws')}/ws`, ...(mqttUrl ? { mqtt: mqttUrl } : {}) };
    let closing: Promise<void> | undefined;
    return {
      hub,
      urls,
      ...(firstAdminToken ? { firstAdminToken } : {}),
      close: () =>
        (closing ??= (async () => {
          for (const stop of stops.reverse()) await stop().catch((err) => logger.warn({ err }, 'binding failed to stop cleanly'));
          await hub.close();
        })()),
    };
  } catch (error) {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await hub.close();
    throw error;
  }
}
