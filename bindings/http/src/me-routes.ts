// GET /me: who the token belongs to (client id and role), so a user interface can show only what
// that role may do without trying operations and reading 403s.

import { sendJson } from './http-io.js';
import type { HttpRouter } from './route.js';

export function registerMeRoutes(router: HttpRouter): void {
  router.add('GET', '/me', {
    async handle({ res, client }) {
      // Never cached: the answer follows the token, and a revoked token must get its 401.
      sendJson(res, 200, { id: client.id, role: client.role }, { 'Cache-Control': 'no-store' });
    },
  });
}
