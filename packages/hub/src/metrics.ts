// The hub's Prometheus metrics (prom-client, one registry per running hub): every family, and the
// HubObserver through which the core and the bindings report to them. Served by metrics-server.ts.

import type { HubObserver, RequestStatus } from '@twinhub/core';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

const BINDINGS = ['http', 'sse', 'ws', 'mqtt'] as const;
const STATUSES: readonly RequestStatus[] = ['pending', 'delivered', 'running', 'completed', 'failed', 'expired', 'cancelled'];
/** Seconds: a cached read takes well under a millisecond, a durable write a few, `Prefer: wait` up to 30 s. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class HubMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'twinhub_requests_total',
    help: 'Operations handled, by operation, binding and status code',
    labelNames: ['operation', 'binding', 'status'] as const,
    registers: [this.registry],
  });
  readonly requestSeconds = new Histogram({
    name: 'twinhub_request_duration_seconds',
    help: 'Time from a binding handing an operation to the core until its result, by operation and binding',
    labelNames: ['operation', 'binding'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly sessions = new Gauge({
    name: 'twinhub_sessions',
    help: 'Live sessions (WebSocket, SSE stream, MQTT connection), by binding',
    labelNames: ['binding'] as const,
    registers: [this.registry],
  });
  readonly notificationsSent = new Counter({
    name: 'twinhub_notifications_sent_total',
    help: 'Notifications handed to a session, by binding',
    labelNames: ['binding'] as const,
    registers: [this.registry],
  });
  readonly notificationsDropped = new Counter({
    name: 'twinhub_notifications_dropped_total',
    help: 'Notifications a session did not get (its binding dropped it as slow, or its sink failed), by binding',
    labelNames: ['binding'] as const,
    registers: [this.registry],
  });
  readonly slowClients = new Counter({
    name: 'twinhub_slow_clients_dropped_total',
    help: 'Clients dropped because they did not read their messages (send buffer over its bound), by binding',
    labelNames: ['binding'] as const,
    registers: [this.registry],
  });
  readonly authFailures = new Counter({
    name: 'twinhub_auth_failures_total',
    help: 'Refused credentials (unknown, revoked or malformed tokens), by binding',
    labelNames: ['binding'] as const,
    registers: [this.registry],
  });
  readonly persistBatchRecords = new Histogram({
    name: 'twinhub_persist_batch_records',
    help: 'Records per group-commit batch written to the store',
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000],
    registers: [this.registry],
  });
  readonly persistSeconds = new Histogram({
    name: 'twinhub_persist_duration_seconds',
    help: 'Time the store took to write one batch, by result (ok, refused)',
    labelNames: ['result'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  /** What the core and the bindings report to. */
  readonly observer: HubObserver = {
    persistBatch: ({ records, ms, ok }) => {
      this.persistBatchRecords.observe(records);
      this.persistSeconds.observe({ result: ok ? 'ok' : 'refused' }, ms / 1000);
    },
    notificationDropped: (binding) => this.notificationsDropped.inc({ binding }),
    authFailed: (binding) => this.authFailures.inc({ binding }),
    slowClientDropped: (binding) => this.slowClients.inc({ binding }),
  };

  /** `requestCounts` is read on every scrape (the queue knows its counts; nothing is kept twice). */
  constructor(requestCounts: () => Partial<Record<RequestStatus, number>>) {
    new Gauge({
      name: 'twinhub_queued_requests',
      help: 'Requests (actions and property writes) the hub holds, open and retained, by status',
      labelNames: ['status'] as const,
      registers: [this.registry],
      collect() {
        const counts = requestCounts();
        for (const status of STATUSES) this.set({ status }, counts[status] ?? 0);
      },
    });
    // Every binding shows from the first scrape, at 0, so rates and alerts need no "absent" case.
    for (const binding of BINDINGS) {
      this.sessions.set({ binding }, 0);
      for (const counter of [this.notificationsSent, this.notificationsDropped, this.slowClients, this.authFailures]) counter.inc({ binding }, 0);
    }
    collectDefaultMetrics({ register: this.registry, prefix: 'twinhub_' });
  }

  /** The Prometheus text exposition (format 0.0.4). */
  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
