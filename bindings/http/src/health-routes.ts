// Health checks, no token needed: /health/live (the process answers) and /health/ready (the store
// takes writes and every binding serves). They say which part fails and nothing else: no Thing
// IDs, no counts. /health stays as the liveness check it always was.

import type { Problem } from '@twinhub/core';
import { sendJson, sendProblem } from './http-io.js';
import type { HttpRouter, Route } from './route.js';

/** undefined when the hub can serve; otherwise a 503 problem whose detail names the failing part. */
export type ReadinessCheck = () => Promise<Problem | undefined>;

const NO_STORE = { 'Cache-Control': 'no-store' };

export function registerHealthRoutes(router: HttpRouter, readiness: ReadinessCheck): void {
  const live: Route = { public: true, handle: async ({ res }) => sendJson(res, 200, { status: 'ok' }, NO_STORE) };
  router.add('GET', '/health', live);
  router.add('GET', '/health/live', live);
  router.add('GET', '/health/ready', {
    public: true,
    async handle({ res }) {
      const problem = await readiness();
      if (problem) return sendProblem(res, problem, { ...NO_STORE, 'Retry-After': '5' });
      sendJson(res, 200, { status: 'ready' }, NO_STORE);
    },
  });
}
