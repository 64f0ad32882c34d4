// Agents and their presence: GET /agents (paged like /things) and GET /agents/{id}, each agent with
// connected, sessions, since, lastSeen and the Thing IDs it owns (core operations listagents, readagent).

import { pageParams, sendListing, sendResult } from './http-io.js';
import type { BindingDeps, HttpRouter } from './route.js';

export function registerAgentsRoutes(router: HttpRouter, { hub }: BindingDeps): void {
  router.add('GET', '/agents', {
    async handle({ res, url, client }) {
      sendListing(res, await hub.handle({ operation: 'listagents', query: pageParams(url) }, { client }));
    },
  });

  router.add('GET', '/agents/:id', {
    async handle({ res, params, client }) {
      sendResult(res, await hub.handle({ operation: 'readagent', agentId: params.id }, { client }));
    },
  });
}
