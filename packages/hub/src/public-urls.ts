// Public URLs: the one place that decides which URLs twin TD forms name for every binding (HTTP,
// WebSocket, MQTT), from the URLs the bindings listen at and the configuration.

import { hostname as machineName } from 'node:os';
import type { HubConfig } from './config.js';

/** One URL per binding (http, ws, mqtt); `mqtt` is absent without the MQTT binding. */
export interface BindingUrls {
  http: string;
  ws: string;
  mqtt?: string;
}

export type PublicUrlSettings = Pick<HubConfig, 'host' | 'publicUrl' | 'mqttPublicUrl' | 'mqttUrl'>;

/**
 * The URLs forms name, each a base without trailing slash:
 * - http: --public-url, else the listening URL with the configured host;
 * - ws: the http one with ws/wss (RFC 6455 §3) and the endpoint's path appended (a base path stays);
 * - mqtt: --mqtt-public-url, else the external broker's URL (--mqtt-url), else the embedded broker's
 *   scheme (mqtt/mqtts) and port with --public-url's host or the configured host.
 * An unspecified listen host (0.0.0.0, ::) is no address a client can use, so forms name this
 * machine's hostname instead. User info is dropped: forms must never carry credentials.
 */
export function publicUrls(settings: PublicUrlSettings, listening: BindingUrls, hostname: () => string = machineName): BindingUrls {
  const publicHost = settings.publicUrl === undefined ? hostForForms(settings.host, hostname) : new URL(settings.publicUrl).hostname;
  const http = settings.publicUrl === undefined ? withHost(listening.http, publicHost) : new URL(settings.publicUrl);
  const ws = new URL(http);
  ws.protocol = http.protocol === 'https:' ? 'wss:' : 'ws:';
  ws.pathname = `${trimSlashes(http.pathname)}${new URL(listening.ws).pathname}`;
  const urls: BindingUrls = { http: base(http), ws: base(ws) };
  if (listening.mqtt !== undefined) {
    const mqtt = settings.mqttPublicUrl ?? settings.mqttUrl;
    urls.mqtt = base(mqtt === undefined ? withHost(listening.mqtt, publicHost) : new URL(mqtt));
  }
  return urls;
}

/** The host part (RFC 3986 §3.2.2) forms use for a listen host: IPv6 literals go in brackets. */
function hostForForms(host: string, hostname: () => string): string {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  if (bare === '' || bare === '0.0.0.0' || bare === '::') return hostname();
  return bare.includes(':') ? `[${bare}]` : bare;
}

function withHost(url: string, host: string): URL {
  const result = new URL(url);
  result.hostname = host;
  return result;
}

function base(url: URL): string {
  const result = new URL(url);
  result.username = '';
  result.password = '';
  result.search = '';
  result.hash = '';
  return trimSlashes(result.toString());
}

function trimSlashes(text: string): string {
  return text.replace(/\/+$/, '');
}
