// Hub configuration: command-line flags override TWINHUB_* environment variables, which override
// the defaults. One table lists every setting, so the CLI help, the env names and the parser agree.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DEFAULT_LIMITS, type HubLimits } from '@twinhub/core';

export interface HubConfig {
  dataDir: string;
  /** Keep everything in memory (nothing survives a restart). */
  memory: boolean;
  /** fsync every write batch (survives power loss, slower); off: survives process crashes. */
  fsync: boolean;
  host: string;
  httpPort: number;
  /** Base URL written into twin TDs (behind a proxy); default from the listening address. */
  publicUrl?: string;
  mqtt: boolean;
  mqttPort: number;
  /** External broker URL: the hub becomes a client of it instead of embedding one. */
  mqttUrl?: string;
  mqttUsername?: string;
  mqttPassword?: string;
  /** Embedded broker: connections not yet authenticated (more are closed at once). */
  mqttMaxPendingConnections: number;
  /** Embedded broker: seconds a new connection may take to send CONNECT. */
  mqttConnectTimeoutSeconds: number;
  /** Embedded broker: persistent MQTT sessions per hub client. */
  mqttMaxPersistentSessions: number;
  /** Embedded broker: seconds an offline persistent MQTT session lives. */
  mqttSessionExpirySeconds: number;
  tlsCert?: string;
  tlsKey?: string;
  logLevel: string;
  actionTtlSeconds: number;
  syncActionMaxWaitSeconds: number;
  limits: HubLimits;
}

type Kind = 'string' | 'integer' | 'boolean';
interface Setting {
  flag: string;
  env: string;
  kind: Kind;
  help: string;
  apply: (config: HubConfig, value: string | boolean | number) => void;
}

const limit = (key: keyof HubLimits, flag: string, help: string): Setting => ({
  flag,
  env: `TWINHUB_${flag.toUpperCase().replace(/-/g, '_')}`,
  kind: 'integer',
  help: `${help} (default ${DEFAULT_LIMITS[key]})`,
  apply: (c, v) => (c.limits[key] = v as number),
});

export const SETTINGS: Setting[] = [
  { flag: 'data', env: 'TWINHUB_DATA', kind: 'string', help: 'data folder (default ./data)', apply: (c, v) => (c.dataDir = v as string) },
  { flag: 'memory', env: 'TWINHUB_MEMORY', kind: 'boolean', help: 'keep state in memory only (ephemeral)', apply: (c, v) => (c.memory = v as boolean) },
  { flag: 'fsync', env: 'TWINHUB_FSYNC', kind: 'boolean', help: 'fsync each write batch (power-loss safe, slower)', apply: (c, v) => (c.fsync = v as boolean) },
  { flag: 'host', env: 'TWINHUB_HOST', kind: 'string', help: 'address to listen on (default 127.0.0.1; 0.0.0.0 for all)', apply: (c, v) => (c.host = v as string) },
  { flag: 'http-port', env: 'TWINHUB_HTTP_PORT', kind: 'integer', help: 'HTTP/SSE/WebSocket port (default 8080; 0 = any free port)', apply: (c, v) => (c.httpPort = v as number) },
  { flag: 'public-url', env: 'TWINHUB_PUBLIC_URL', kind: 'string', help: 'base URL put in twin TDs (default: the listening address)', apply: (c, v) => (c.publicUrl = v as string) },
  { flag: 'no-mqtt', env: 'TWINHUB_NO_MQTT', kind: 'boolean', help: 'disable the MQTT binding', apply: (c, v) => (c.mqtt = !v) },
  { flag: 'mqtt-port', env: 'TWINHUB_MQTT_PORT', kind: 'integer', help: 'embedded MQTT broker port (default 1883; 0 = any free port)', apply: (c, v) => (c.mqttPort = v as number) },
  { flag: 'mqtt-url', env: 'TWINHUB_MQTT_URL', kind: 'string', help: 'use this external broker (mqtt://host:port) instead of the embedded one', apply: (c, v) => (c.mqttUrl = v as string) },
  { flag: 'mqtt-username', env: 'TWINHUB_MQTT_USERNAME', kind: 'string', help: 'username at the external broker', apply: (c, v) => (c.mqttUsername = v as string) },
  { flag: 'mqtt-password', env: 'TWINHUB_MQTT_PASSWORD', kind: 'string', help: 'password at the external broker', apply: (c, v) => (c.mqttPassword = v as string) },
  { flag: 'mqtt-max-pending-connections', env: 'TWINHUB_MQTT_MAX_PENDING_CONNECTIONS', kind: 'integer', help: 'embedded broker: connections not yet authenticated; more are closed at once (default 256)', apply: (c, v) => (c.mqttMaxPendingConnections = v as number) },
  { flag: 'mqtt-connect-timeout', env: 'TWINHUB_MQTT_CONNECT_TIMEOUT', kind: 'integer', help: 'embedded broker: seconds a new connection may take to send CONNECT (default 5)', apply: (c, v) => (c.mqttConnectTimeoutSeconds = v as number) },
  { flag: 'mqtt-max-persistent-sessions', env: 'TWINHUB_MQTT_MAX_PERSISTENT_SESSIONS', kind: 'integer', help: 'embedded broker: persistent (clean=false) sessions per client; a new one evicts the oldest offline one (default 10)', apply: (c, v) => (c.mqttMaxPersistentSessions = v as number) },
  { flag: 'mqtt-session-expiry', env: 'TWINHUB_MQTT_SESSION_EXPIRY', kind: 'integer', help: 'embedded broker: seconds an offline persistent session lives (default 86400)', apply: (c, v) => (c.mqttSessionExpirySeconds = v as number) },
  { flag: 'tls-cert', env: 'TWINHUB_TLS_CERT', kind: 'string', help: 'PEM certificate file: serve HTTPS/WSS/MQTTS', apply: (c, v) => (c.tlsCert = v as string) },
  { flag: 'tls-key', env: 'TWINHUB_TLS_KEY', kind: 'string', help: 'PEM private key file for --tls-cert', apply: (c, v) => (c.tlsKey = v as string) },
  { flag: 'log-level', env: 'TWINHUB_LOG_LEVEL', kind: 'string', help: 'fatal|error|warn|info|debug|trace|silent (default warn)', apply: (c, v) => (c.logLevel = v as string) },
  { flag: 'action-ttl', env: 'TWINHUB_ACTION_TTL', kind: 'integer', help: 'seconds a queued request waits for its agent (default 86400)', apply: (c, v) => (c.actionTtlSeconds = v as number) },
  { flag: 'sync-action-wait', env: 'TWINHUB_SYNC_ACTION_WAIT', kind: 'integer', help: 'max seconds HTTP invokeaction waits with Prefer: wait (default 30)', apply: (c, v) => (c.syncActionMaxWaitSeconds = v as number) },
  limit('maxTdBytes', 'max-td-bytes', 'largest TD accepted, bytes'),
  limit('maxPayloadBytes', 'max-payload-bytes', 'largest value/input/event/message, bytes'),
  limit('maxQueuedActionsPerThing', 'max-queued-actions', 'requests waiting per Thing'),
  limit('maxSubscriptionsPerSession', 'max-subscriptions', 'subscriptions per connection'),
  limit('maxSessionsPerClient', 'max-sessions-per-client', 'live connections per client'),
  limit('maxConnections', 'max-connections', 'connections per binding'),
  limit('maxSendBufferBytes', 'max-send-buffer-bytes', 'bytes buffered for a slow client before it is dropped'),
  limit('maxThingsPerAgent', 'max-things-per-agent', 'Things one agent may register'),
];

export function defaultConfig(): HubConfig {
  return {
    dataDir: './data',
    memory: false,
    fsync: false,
    host: '127.0.0.1',
    httpPort: 8080,
    mqtt: true,
    mqttPort: 1883,
    mqttMaxPendingConnections: 256,
    mqttConnectTimeoutSeconds: 5,
    mqttMaxPersistentSessions: 10,
    mqttSessionExpirySeconds: 86_400,
    logLevel: 'warn',
    actionTtlSeconds: 24 * 3600,
    syncActionMaxWaitSeconds: 30,
    limits: { ...DEFAULT_LIMITS },
  };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function convert(setting: Setting, raw: string | boolean, source: string): string | boolean | number {
  if (setting.kind === 'boolean') return typeof raw === 'boolean' ? raw : /^(1|true|yes|on)$/i.test(raw);
  if (setting.kind === 'integer') {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 0) throw new ConfigError(`${source} must be a non-negative integer, got ${JSON.stringify(raw)}`);
    return value;
  }
  return raw;
}

/** parseArgs options for every setting (used by `serve`). */
export function settingOptions(): NonNullable<ParseArgsConfig['options']> {
  return Object.fromEntries(SETTINGS.map((s) => [s.flag, { type: s.kind === 'boolean' ? 'boolean' : 'string' } as const]));
}

/** Builds the configuration from parsed flags and the environment. */
export function resolveConfig(flags: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv = process.env): HubConfig {
  const config = defaultConfig();
  for (const setting of SETTINGS) {
    const fromEnv = env[setting.env];
    if (fromEnv !== undefined && fromEnv !== '') setting.apply(config, convert(setting, fromEnv, setting.env));
    const fromFlag = flags[setting.flag];
    if (fromFlag !== undefined) setting.apply(config, convert(setting, fromFlag, `--${setting.flag}`));
  }
  if ((config.tlsCert === undefined) !== (config.tlsKey === undefined)) throw new ConfigError('--tls-cert and --tls-key go together');
  return config;
}

export function settingsHelp(): string {
  return SETTINGS.map((s) => `${`  --${s.flag}${s.kind === 'boolean' ? '' : ' <value>'}`.padEnd(34)} ${s.help} [${s.env}]`).join('\n');
}
