// Presence operations: listagents and readagent. Consumers see every agent; an agent sees only
// itself (auth/permissions.ts canSeeAgent), and learns nothing about whether other agents exist.

import { canSeeAgent } from '../auth/permissions.js';
import { ok, type HandlerTable } from '../core-context.js';
import { checkCount, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT } from '../directory/directory.js';
import { badRequest, forbidden, notFound } from '../model/errors.js';
import { agentRecord, isKnownAgent, visibleAgents } from './presence.js';

export const presenceHandlers: HandlerTable = {
  async listagents(core, request, { client }) {
    const offset = checkCount('offset', request.query?.offset, 0, Number.MAX_SAFE_INTEGER) ?? 0;
    const limit = checkCount('limit', request.query?.limit, 1, MAX_LIST_LIMIT) ?? DEFAULT_LIST_LIMIT;
    const agents = visibleAgents(core, client);
    return { ...ok(agents.slice(offset, offset + limit).map((id) => agentRecord(core, id))), total: agents.length };
  },

  async readagent(core, request, { client }) {
    const { agentId } = request;
    if (agentId === undefined) throw badRequest('readagent needs an agentId');
    // Checked before existence: an agent must not learn which other agent ids are known.
    if (!canSeeAgent(client, agentId)) throw forbidden(`agent '${client.id}' may only readagent itself`);
    if (client.role !== 'agent' && !isKnownAgent(core, agentId)) {
      throw notFound(`no agent '${agentId}' owns a Thing or was seen since the hub started`);
    }
    return ok(agentRecord(core, agentId));
  },
};
