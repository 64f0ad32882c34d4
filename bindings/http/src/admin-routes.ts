// Clients and tokens under /admin (admin only, decided by the core's permission table): each
// route is one core operation, so the CLI over HTTP and any other binding get the same rules.

import type { HubRequest } from '@twinhub/core';
import { readJsonBody, sendResult } from './http-io.js';
import { enc, type BindingDeps, type HttpRouter } from './route.js';

/** Client and token bodies are a few fields. */
const MAX_ADMIN_BODY_BYTES = 4096;

export function registerAdminRoutes(router: HttpRouter, deps: BindingDeps): void {
  const { hub } = deps;
  const body = (req: Parameters<typeof readJsonBody>[0]) => readJsonBody(req, { maxBytes: MAX_ADMIN_BODY_BYTES });
  /** The body's fields with the path's, so a body cannot name another client than the URL. */
  const withPath = (input: unknown, path: Record<string, string>): unknown =>
    typeof input === 'object' && input !== null && !Array.isArray(input) ? { ...input, ...path } : input === undefined ? path : input;

  router.add('GET', '/admin/clients', {
    async handle({ res, client }) {
      sendResult(res, await hub.handle({ operation: 'listclients' }, { client }));
    },
  });

  router.add('POST', '/admin/clients', {
    async handle({ req, res, client }) {
      const result = await hub.handle({ operation: 'createclient', input: await body(req) }, { client });
      const id = result.ok ? (result.output as { id: string }).id : undefined;
      sendResult(res, result, id !== undefined && result.status === 201 ? { headers: { Location: `${deps.baseUrl()}/admin/clients/${enc(id)}` } } : {});
    },
  });

  router.add('DELETE', '/admin/clients/:id', {
    async handle({ res, params, client }) {
      sendResult(res, await hub.handle({ operation: 'deleteclient', input: { id: params.id } }, { client }));
    },
  });

  router.add('POST', '/admin/clients/:id/tokens', {
    async handle({ req, res, params, client }) {
      const request: HubRequest = { operation: 'createtoken', input: withPath(await body(req), { clientId: params.id }) };
      // The secret is in this response only: no cache may keep it.
      sendResult(res, await hub.handle(request, { client }), { headers: { 'Cache-Control': 'no-store' } });
    },
  });

  router.add('GET', '/admin/clients/:id/tokens', {
    async handle({ res, params, client }) {
      sendResult(res, await hub.handle({ operation: 'listtokens', input: { clientId: params.id } }, { client }));
    },
  });

  router.add('DELETE', '/admin/clients/:id/tokens', {
    async handle({ res, params, client }) {
      sendResult(res, await hub.handle({ operation: 'revoketoken', input: { clientId: params.id } }, { client }));
    },
  });

  router.add('GET', '/admin/tokens', {
    async handle({ res, client }) {
      sendResult(res, await hub.handle({ operation: 'listtokens' }, { client }));
    },
  });

  router.add('DELETE', '/admin/tokens/:tokenId', {
    async handle({ res, params, client }) {
      sendResult(res, await hub.handle({ operation: 'revoketoken', input: { tokenId: params.tokenId } }, { client }), { status: 204 });
    },
  });
}
