// Hub configuration: command-line flags override TWINHUB_* environment variables, which override
// the defaults. One table lists every setting, so the CLI help, the env names and the parser agree.

import type { ParseArgsConfig } from 'node:util';
import { DEFAULT_LIMITS, type HubLimits } from '@twinhub/core';

export interface HubConfig {
  dataDir: string;
  /** Keep everything in memory (nothing survives a restart). */
  memory: boolean;
  /**
   * Cluster mode (docs/cluster.md): NATS server URLs; the records live in a JetStream stream there
   * instead of the data folder. Empty: the embedded store.
   */
  nats: string[];
  natsToken?: string;
  /** Path of a NATS credentials file (JWT + NKey seed, as `nsc` writes it); never logged. */
  natsCreds?: string;
  /** Replicas of the commit-log stream when this hub creates it (default: 3 on a cluster of 3+ servers, else 1). */
  natsReplicas?: number;
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
  /** External broker: the hub's MQTT client id (default 'twinhub'; in cluster mode one per instance, see mqttClientIdFor). */
  mqttClientId?: string;
  /** Cluster mode with an external broker: the MQTT 5 shared-subscription group of the instances. */
  mqttShareGroup: string;
  /** Cluster mode with an external broker: seconds the broker keeps an instance's session (and its share of messages) while it is down. */
  mqttShareSessionExpirySeconds: number;
  /** Broker URL put in twin TD MQTT forms; default from --mqtt-url, or --public-url's host, or the listen host. */
  mqttPublicUrl?: string;
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
  requestTtlSeconds: number;
  /** Twins a query evaluates at most per request (beyond: it says so and gives a cursor). */
  queryScanLimit: number;
  /** MiB of twin records kept parsed in memory (and the state of as many Things as 1 KiB each fits); the others are read back from the store on use (embedded store only). */
  twinCacheMb: number;
  /** How long, and how many, ended requests stay queryable. */
  requestRetentionSeconds: number;
  requestRetentionCount: number;
  syncActionMaxWaitSeconds: number;
  /** Record the history of property values and events (docs/history.md); off: nothing is recorded. */
  history: boolean;
  /** Days history samples are kept, and how many per property or event at most (policies may say otherwise). */
  historyRetentionDays: number;
  historyMaxSamples: number;
  /** Sockets on the HTTP port not yet authenticated (HTTP request or WebSocket upgrade), at most. */
  maxPendingConnections: number;
  /** Seconds a socket has to send complete request headers, or to send anything while unauthenticated. */
  handshakeTimeoutSeconds: number;
  /** Browser origins whose pages may use the HTTP API (CORS) and open WebSockets; empty: no CORS, any WebSocket origin. */
  corsOrigins: string[];
  /** The built web dashboard served at /ui/; default: the installed @twinhub/dashboard package's dist. */
  uiDir?: string;
  limits: HubLimits;
  /** Serve GET /metrics (Prometheus) on this port of metricsHost; undefined: not served. */
  metricsPort?: number;
  metricsHost: string;
  /** Seconds a graceful stop may take before the process gives up and exits non-zero. */
  shutdownTimeoutSeconds: number;
  /** The longest wait before refusing a bad token or login, ms, on every binding (0: no slowdown). */
  authFailureMaxDelayMs: number;
  /** `token`/`clients` commands: the running hub they talk to, and the admin token they send. */
  hubUrl: string;
  hubToken?: string;
  /** TWINHUB_ADMIN_TOKEN (environment only: flags show in `ps`): an admin token accepted, never stored. */
  bootstrapAdminToken?: string;
}

/** 'list': a repeatable flag, or a comma-separated environment variable. */
type Kind = 'string' | 'integer' | 'boolean' | 'list';
type Value = string | boolean | number | string[];
/** Parsed command-line flags: a 'list' setting's flag may come as several values. */
export type Flags = Record<string, string | boolean | string[] | undefined>;
interface Setting {
  flag: string;
  env: string;
  kind: Kind;
  help: string;
  apply: (config: HubConfig, value: Value) => void;
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
  {
    flag: 'nats',
    env: 'TWINHUB_NATS',
    kind: 'list',
    help: 'cluster mode: NATS server URL (nats://host:4222) holding the records in JetStream instead of the data folder; repeatable, env comma-separated',
    apply: (c, v) => (c.nats = v as string[]),
  },
  {
    flag: 'nats-token',
    env: 'TWINHUB_NATS_TOKEN',
    kind: 'string',
    help: 'token the NATS servers require, if any',
    apply: (c, v) => (c.natsToken = v as string),
  },
  {
    flag: 'nats-creds',
    env: 'TWINHUB_NATS_CREDS',
    kind: 'string',
    help: 'NATS credentials file (JWT and NKey seed, as nsc writes it) when the servers require one; read at each connect',
    apply: (c, v) => (c.natsCreds = v as string),
  },
  {
    flag: 'nats-replicas',
    env: 'TWINHUB_NATS_REPLICAS',
    kind: 'integer',
    help: 'replicas of the JetStream stream when this hub creates it (default 3 on a cluster of 3+ servers, else 1)',
    apply: (c, v) => (c.natsReplicas = v as number),
  },
  { flag: 'fsync', env: 'TWINHUB_FSYNC', kind: 'boolean', help: 'fsync each write batch (power-loss safe, slower)', apply: (c, v) => (c.fsync = v as boolean) },
  {
    flag: 'host',
    env: 'TWINHUB_HOST',
    kind: 'string',
    help: 'address to listen on (default 127.0.0.1; 0.0.0.0 for all)',
    apply: (c, v) => (c.host = v as string),
  },
  {
    flag: 'http-port',
    env: 'TWINHUB_HTTP_PORT',
    kind: 'integer',
    help: 'HTTP/SSE/WebSocket port (default 8080; 0 = any free port)',
    apply: (c, v) => (c.httpPort = v as number),
  },
  {
    flag: 'public-url',
    env: 'TWINHUB_PUBLIC_URL',
    kind: 'string',
    help: "http(s) base URL put in twin TDs (default: the listen address; this host's name for 0.0.0.0)",
    apply: (c, v) => (c.publicUrl = v as string),
  },
  { flag: 'no-mqtt', env: 'TWINHUB_NO_MQTT', kind: 'boolean', help: 'disable the MQTT binding', apply: (c, v) => (c.mqtt = !v) },
  {
    flag: 'mqtt-port',
    env: 'TWINHUB_MQTT_PORT',
    kind: 'integer',
    help: 'embedded MQTT broker port (default 1883; 0 = any free port)',
    apply: (c, v) => (c.mqttPort = v as number),
  },
  {
    flag: 'mqtt-url',
    env: 'TWINHUB_MQTT_URL',
    kind: 'string',
    help: 'use this external broker (mqtt://host:port) instead of the embedded one',
    apply: (c, v) => (c.mqttUrl = v as string),
  },
  {
    flag: 'mqtt-public-url',
    env: 'TWINHUB_MQTT_PUBLIC_URL',
    kind: 'string',
    help: 'mqtt(s)://host:port put in twin TD MQTT forms (default: see README)',
    apply: (c, v) => (c.mqttPublicUrl = v as string),
  },
  {
    flag: 'mqtt-username',
    env: 'TWINHUB_MQTT_USERNAME',
    kind: 'string',
    help: 'username at the external broker',
    apply: (c, v) => (c.mqttUsername = v as string),
  },
  {
    flag: 'mqtt-password',
    env: 'TWINHUB_MQTT_PASSWORD',
    kind: 'string',
    help: 'password at the external broker',
    apply: (c, v) => (c.mqttPassword = v as string),
  },
  {
    flag: 'mqtt-client-id',
    env: 'TWINHUB_MQTT_CLIENT_ID',
    kind: 'string',
    help: "external broker: the hub's MQTT client id, unique per instance (default twinhub; in cluster mode twinhub-<hostname>-<http port>)",
    apply: (c, v) => (c.mqttClientId = v as string),
  },
  {
    flag: 'mqtt-share-group',
    env: 'TWINHUB_MQTT_SHARE_GROUP',
    kind: 'string',
    help: 'cluster mode with --mqtt-url: MQTT 5 shared-subscription group ($share/<group>/...) of the instances (default twinhub)',
    apply: (c, v) => (c.mqttShareGroup = v as string),
  },
  {
    flag: 'mqtt-share-session-expiry',
    env: 'TWINHUB_MQTT_SHARE_SESSION_EXPIRY',
    kind: 'integer',
    help: "cluster mode with --mqtt-url: seconds the broker keeps a crashed instance's session and its share of messages (default 60)",
    apply: (c, v) => (c.mqttShareSessionExpirySeconds = v as number),
  },
  {
    flag: 'mqtt-max-pending-connections',
    env: 'TWINHUB_MQTT_MAX_PENDING_CONNECTIONS',
    kind: 'integer',
    help: 'embedded broker: connections not yet authenticated; more are closed at once (default 256)',
    apply: (c, v) => (c.mqttMaxPendingConnections = v as number),
  },
  {
    flag: 'mqtt-connect-timeout',
    env: 'TWINHUB_MQTT_CONNECT_TIMEOUT',
    kind: 'integer',
    help: 'embedded broker: seconds a new connection may take to send CONNECT (default 5)',
    apply: (c, v) => (c.mqttConnectTimeoutSeconds = v as number),
  },
  {
    flag: 'mqtt-max-persistent-sessions',
    env: 'TWINHUB_MQTT_MAX_PERSISTENT_SESSIONS',
    kind: 'integer',
    help: 'embedded broker: persistent (clean=false) sessions per client; a new one evicts the oldest offline one (default 10)',
    apply: (c, v) => (c.mqttMaxPersistentSessions = v as number),
  },
  {
    flag: 'mqtt-session-expiry',
    env: 'TWINHUB_MQTT_SESSION_EXPIRY',
    kind: 'integer',
    help: 'embedded broker: seconds an offline persistent session lives (default 86400)',
    apply: (c, v) => (c.mqttSessionExpirySeconds = v as number),
  },
  {
    flag: 'tls-cert',
    env: 'TWINHUB_TLS_CERT',
    kind: 'string',
    help: 'PEM certificate file: serve HTTPS/WSS/MQTTS',
    apply: (c, v) => (c.tlsCert = v as string),
  },
  { flag: 'tls-key', env: 'TWINHUB_TLS_KEY', kind: 'string', help: 'PEM private key file for --tls-cert', apply: (c, v) => (c.tlsKey = v as string) },
  {
    flag: 'log-level',
    env: 'TWINHUB_LOG_LEVEL',
    kind: 'string',
    help: 'fatal|error|warn|info|debug|trace|silent (default warn)',
    apply: (c, v) => (c.logLevel = v as string),
  },
  {
    flag: 'request-ttl',
    env: 'TWINHUB_REQUEST_TTL',
    kind: 'integer',
    help: 'seconds a queued request waits for its agent (default 86400)',
    apply: (c, v) => (c.requestTtlSeconds = v as number),
  },
  { flag: 'action-ttl', env: 'TWINHUB_ACTION_TTL', kind: 'integer', help: 'old name of --request-ttl', apply: (c, v) => (c.requestTtlSeconds = v as number) },
  {
    flag: 'twin-cache-mb',
    env: 'TWINHUB_TWIN_CACHE_MB',
    kind: 'integer',
    help: 'MiB of twin records (TDs) kept in memory, and the state of as many Things as 1 KiB each fits; the least recently used are read back from the data folder on use (default 64; cluster mode keeps all)',
    apply: (c, v) => (c.twinCacheMb = v as number),
  },
  {
    flag: 'query-scan-limit',
    env: 'TWINHUB_QUERY_SCAN_LIMIT',
    kind: 'integer',
    help: 'twins a listing query evaluates at most per request (default 100000)',
    apply: (c, v) => (c.queryScanLimit = v as number),
  },
  {
    flag: 'request-retention',
    env: 'TWINHUB_REQUEST_RETENTION',
    kind: 'integer',
    help: 'seconds ended requests stay queryable (default 86400)',
    apply: (c, v) => (c.requestRetentionSeconds = v as number),
  },
  {
    flag: 'request-retention-count',
    env: 'TWINHUB_REQUEST_RETENTION_COUNT',
    kind: 'integer',
    help: 'ended requests kept at most, oldest pruned first (default 10000)',
    apply: (c, v) => (c.requestRetentionCount = v as number),
  },
  {
    flag: 'history',
    env: 'TWINHUB_HISTORY',
    kind: 'string',
    help: 'on|off: record the history of property values and events (default on)',
    apply: (c, v) => (c.history = onOff('--history (TWINHUB_HISTORY)', v as string)),
  },
  {
    flag: 'history-retention-days',
    env: 'TWINHUB_HISTORY_RETENTION_DAYS',
    kind: 'integer',
    help: 'days history samples are kept (default 30)',
    apply: (c, v) => (c.historyRetentionDays = atLeastOne('--history-retention-days (TWINHUB_HISTORY_RETENTION_DAYS)', v as number)),
  },
  {
    flag: 'history-max-samples',
    env: 'TWINHUB_HISTORY_MAX_SAMPLES',
    kind: 'integer',
    help: 'history samples kept per property or event, oldest pruned first (default 10000)',
    apply: (c, v) => (c.historyMaxSamples = atLeastOne('--history-max-samples (TWINHUB_HISTORY_MAX_SAMPLES)', v as number)),
  },
  {
    flag: 'sync-action-wait',
    env: 'TWINHUB_SYNC_ACTION_WAIT',
    kind: 'integer',
    help: 'max seconds HTTP invokeaction waits with Prefer: wait (default 30)',
    apply: (c, v) => (c.syncActionMaxWaitSeconds = v as number),
  },
  {
    flag: 'max-pending-connections',
    env: 'TWINHUB_MAX_PENDING_CONNECTIONS',
    kind: 'integer',
    help: 'unauthenticated sockets on the HTTP/WebSocket port (default 1000)',
    apply: (c, v) => (c.maxPendingConnections = v as number),
  },
  {
    flag: 'handshake-timeout',
    env: 'TWINHUB_HANDSHAKE_TIMEOUT',
    kind: 'integer',
    help: 'seconds to send request headers; an unauthenticated socket silent this long is closed (default 10)',
    apply: (c, v) => (c.handshakeTimeoutSeconds = v as number),
  },
  limit('maxTdBytes', 'max-td-bytes', 'largest TD accepted, bytes'),
  limit('maxPayloadBytes', 'max-payload-bytes', 'largest value/input/event/message, bytes'),
  limit('maxQueuedRequestsPerThing', 'max-queued-requests', 'requests waiting per Thing'),
  limit('maxQueuedRequestsPerThing', 'max-queued-actions', 'old name of --max-queued-requests'),
  limit('maxSubscriptionsPerSession', 'max-subscriptions', 'subscriptions per connection'),
  limit('maxSessionsPerClient', 'max-sessions-per-client', 'live connections per client'),
  limit('maxConnections', 'max-connections', 'connections per binding'),
  limit('maxSendBufferBytes', 'max-send-buffer-bytes', 'bytes buffered for a slow client before it is dropped'),
  limit('maxThingsPerAgent', 'max-things-per-agent', 'Things one agent may register'),
  limit('maxTdBytesPerAgent', 'max-td-bytes-per-agent', 'bytes of TDs one agent may register in all'),
  limit('maxTdBytesTotal', 'max-td-bytes-total', 'bytes of TDs the directory may hold'),
  limit('maxListPageBytes', 'max-list-page-bytes', 'a directory listing page ends at this many bytes of TDs'),
  {
    flag: 'cors-origin',
    env: 'TWINHUB_CORS_ORIGIN',
    kind: 'list',
    help: 'origin (https://app.example) whose pages may use the API and WebSocket; repeatable, env comma-separated (default none)',
    apply: (c, v) => (c.corsOrigins = (v as string[]).map(corsOrigin)),
  },
  {
    flag: 'ui-dir',
    env: 'TWINHUB_UI_DIR',
    kind: 'string',
    help: 'folder of the built web dashboard served at /ui/ (default: the dist folder of @twinhub/dashboard)',
    apply: (c, v) => (c.uiDir = v as string),
  },
  {
    flag: 'metrics-port',
    env: 'TWINHUB_METRICS_PORT',
    kind: 'integer',
    help: 'serve GET /metrics (Prometheus) on this port, apart from the API (default: off)',
    apply: (c, v) => (c.metricsPort = v as number),
  },
  {
    flag: 'metrics-host',
    env: 'TWINHUB_METRICS_HOST',
    kind: 'string',
    help: 'address the metrics port listens on (default 127.0.0.1)',
    apply: (c, v) => (c.metricsHost = v as string),
  },
  {
    flag: 'shutdown-timeout',
    env: 'TWINHUB_SHUTDOWN_TIMEOUT',
    kind: 'integer',
    help: 'seconds a graceful stop may take; then the process exits 1 naming what hung (default 10)',
    apply: (c, v) => (c.shutdownTimeoutSeconds = v as number),
  },
  {
    flag: 'url',
    env: 'TWINHUB_URL',
    kind: 'string',
    help: 'token/clients commands: the running hub (default http://127.0.0.1:8080)',
    apply: (c, v) => (c.hubUrl = v as string),
  },
  {
    flag: 'token',
    env: 'TWINHUB_TOKEN',
    kind: 'string',
    help: 'token/clients commands: an admin token of that hub (prefer the env variable: flags show in ps)',
    apply: (c, v) => (c.hubToken = v as string),
  },
  {
    flag: 'auth-failure-max-delay',
    env: 'TWINHUB_AUTH_FAILURE_MAX_DELAY',
    kind: 'integer',
    help: 'ms: repeated failed logins from one address wait up to this long before the refusal (default 3000; 0 behind a proxy that hides client addresses)',
    apply: (c, v) => (c.authFailureMaxDelayMs = v as number),
  },
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
    mqttShareGroup: 'twinhub',
    mqttShareSessionExpirySeconds: 60,
    logLevel: 'warn',
    requestTtlSeconds: 24 * 3600,
    queryScanLimit: 100_000,
    twinCacheMb: 64,
    requestRetentionSeconds: 24 * 3600,
    requestRetentionCount: 10_000,
    syncActionMaxWaitSeconds: 30,
    history: true,
    historyRetentionDays: 30,
    historyMaxSamples: 10_000,
    maxPendingConnections: 1000,
    handshakeTimeoutSeconds: 10,
    corsOrigins: [],
    nats: [],
    limits: { ...DEFAULT_LIMITS },
    metricsHost: '127.0.0.1',
    shutdownTimeoutSeconds: 10,
    authFailureMaxDelayMs: 3000,
    hubUrl: 'http://127.0.0.1:8080',
  };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function onOff(setting: string, value: string): boolean {
  if (/^(on|true|yes|1)$/i.test(value)) return true;
  if (/^(off|false|no|0)$/i.test(value)) return false;
  throw new ConfigError(`${setting} must be on or off, got ${JSON.stringify(value)}`);
}

function atLeastOne(setting: string, value: number): number {
  if (value < 1) throw new ConfigError(`${setting} must be at least 1, got ${value}`);
  return value;
}

function convert(setting: Setting, raw: string | boolean | string[], source: string): Value {
  if (setting.kind === 'list')
    return (Array.isArray(raw) ? raw : [String(raw)])
      .flatMap((item) => item.split(','))
      .map((item) => item.trim())
      .filter(Boolean);
  if (Array.isArray(raw)) throw new ConfigError(`${source} may be given once`);
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
  return Object.fromEntries(SETTINGS.map((s) => [s.flag, s.kind === 'boolean' ? { type: 'boolean' } : { type: 'string', multiple: s.kind === 'list' }]));
}

/** Builds the configuration from parsed flags and the environment. */
export function resolveConfig(flags: Flags, env: NodeJS.ProcessEnv = process.env): HubConfig {
  const config = defaultConfig();
  for (const setting of SETTINGS) {
    const fromEnv = env[setting.env];
    if (fromEnv !== undefined && fromEnv !== '') setting.apply(config, convert(setting, fromEnv, setting.env));
    const fromFlag = flags[setting.flag];
    if (fromFlag !== undefined) setting.apply(config, convert(setting, fromFlag, `--${setting.flag}`));
  }
  if ((config.tlsCert === undefined) !== (config.tlsKey === undefined)) throw new ConfigError('--tls-cert and --tls-key go together');
  const bootstrap = env.TWINHUB_ADMIN_TOKEN;
  if (bootstrap !== undefined && bootstrap !== '') {
    // As long as a generated one (th_ + 43 base64url characters): a short secret is guessable.
    if (!/^th_[A-Za-z0-9_-]{43,}$/.test(bootstrap)) {
      throw new ConfigError('TWINHUB_ADMIN_TOKEN must be th_ followed by at least 43 letters, digits, _ or - (e.g. th_$(openssl rand -hex 32))');
    }
    config.bootstrapAdminToken = bootstrap;
  }
  checkUrl('--public-url (TWINHUB_PUBLIC_URL)', config.publicUrl, ['http:', 'https:']);
  checkUrl('--mqtt-public-url (TWINHUB_MQTT_PUBLIC_URL)', config.mqttPublicUrl, ['mqtt:', 'mqtts:']);
  checkUrl('--url (TWINHUB_URL)', config.hubUrl, ['http:', 'https:']);
  // A ShareName holds no '/', '+' or '#' (MQTT 5 §4.8.2).
  if (config.mqttShareGroup === '' || /[/+#]/.test(config.mqttShareGroup)) {
    throw new ConfigError(
      `--mqtt-share-group (TWINHUB_MQTT_SHARE_GROUP) must be non-empty and hold no '/', '+' or '#', got ${JSON.stringify(config.mqttShareGroup)}`,
    );
  }
  return config;
}

/** Twin TDs carry no `base`, so form hrefs (W3C WoT TD 1.1 §5.3.4.2) built on these must be absolute. */
function checkUrl(setting: string, value: string | undefined, protocols: string[]): void {
  if (value === undefined) return;
  const url = URL.canParse(value) ? new URL(value) : undefined;
  if (url === undefined || !protocols.includes(url.protocol) || url.hostname === '') {
    throw new ConfigError(`${setting} must be an absolute ${protocols.map((p) => `${p}//`).join(' or ')} URL with a host, got ${JSON.stringify(value)}`);
  }
}

/**
 * An origin as browsers serialize it in the Origin header (scheme://host[:port], lowercase, no
 * default port), since the bindings compare it byte for byte. `null` (sandboxed pages, file:) and
 * `*` are refused: neither names one site.
 */
function corsOrigin(value: string): string {
  const url = URL.canParse(value) ? new URL(value) : undefined;
  if (url === undefined || !['http:', 'https:'].includes(url.protocol) || url.hostname === '' || url.href !== `${url.origin}/`) {
    throw new ConfigError(
      `--cors-origin (TWINHUB_CORS_ORIGIN) must be an http:// or https:// origin such as https://app.example:8443, got ${JSON.stringify(value)}`,
    );
  }
  return url.origin;
}

export function settingsHelp(): string {
  return SETTINGS.map((s) => `${`  --${s.flag}${s.kind === 'boolean' ? '' : ' <value>'}`.padEnd(34)} ${s.help} [${s.env}]`).join('\n');
}
