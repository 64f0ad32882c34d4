// Agents and their presence: GET /agents (paged like /things) and GET /agents/{id}, each agent with
// connected, sessions, since, lastSeen and the Thing IDs it owns (core operations listagents, readagent).

import type { TwinQuery } from '@twinhub/core';
import { intParam, sendResult } from './http-io.js';
import type { BindingDeps, HttpRouter } from './route.js';

export function registerAgentsRoutes(router: HttpRouter, { hub }: BindingDeps): void {
  router.add('GET', '/agents', {
    async handle({ res, url, client }) {
      const query: TwinQuery = {};
      const offset = intParam(url, 'offset');
      const limit = intParam(url, 'limit');
      if (offset !== undefined) query.offset = offset;
      if (limit !== undefined) query.limit = limit;
      const result = await hub.handle({ operation: 'listagents', query }, { client });
      sendResult(res, result, result.ok && result.total !== undefined ? { headers: { 'X-Total-Count': String(result.total) } } : {});
    },
  });

  router.add('GET', '/agents/:id', {
    async handle({ res, params, client }) {
      sendResult(res, await hub.handle({ operation: 'readagent', agentId: params.id }, { client }));
    },
  });
}
