// GET /metrics on its own listener (--metrics-port, on --metrics-host, loopback by default): kept
// off the API port so scrapers need no admin token and the endpoint is reachable only where the
// operator binds it (docs/operations.md).

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { HubMetrics } from './metrics.js';

export interface MetricsServer {
  /** Listens; resolves with the URL of the metrics endpoint. */
  start(): Promise<string>;
  close(): Promise<void>;
}

export function createMetricsServer(metrics: HubMetrics, options: { host: string; port: number }, logger: Logger): MetricsServer {
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://metrics.invalid').pathname;
    if (path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('only /metrics is served here\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('use GET\n');
      return;
    }
    metrics.text().then(
      ({ contentType, body }) => res.writeHead(200, { 'Content-Type': contentType }).end(req.method === 'HEAD' ? undefined : body),
      (error: unknown) => {
        logger.error({ err: error }, 'metrics collection failed');
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end('metrics collection failed\n');
      },
    );
  });
  return {
    start: () =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.port, options.host, () => {
          server.off('error', reject);
          const { address, family, port } = server.address() as AddressInfo;
          const url = `http://${family === 'IPv6' ? `[${address}]` : address}:${port}/metrics`;
          logger.info({ url }, 'metrics listening');
          resolve(url);
        });
      }),
    close: () =>
      new Promise((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
