// Agents' presence as consumers see it: who may see which agent, what an agent record holds
// (presence plus the Things it owns), and the agent_connected / agent_disconnected announcements.

import { canSeeAgent } from '../auth/permissions.js';
import type { HubCore } from '../core-context.js';
import type { TwinDirectory } from '../directory/directory.js';
import type { AgentPresence, Client } from '../model/types.js';
import type { NotificationRegistry } from '../notify/registry.js';

/** What listagents / readagent return per agent. */
export interface AgentRecord extends AgentPresence {
  /** IDs of the Things the agent owns, sorted. */
  things: string[];
}

/** readtwin's presence: the owner's, without repeating its id. */
export function ownerPresence(core: HubCore, agentId: string): Omit<AgentPresence, 'agentId'> {
  const { agentId: _id, ...presence } = core.sessions.presence(agentId);
  return presence;
}

export function agentRecord(core: HubCore, agentId: string): AgentRecord {
  return { ...core.sessions.presence(agentId), things: core.directory.ownedBy(agentId) };
}

/** The agents the client may see, sorted: every agent that owns a Thing or was seen since start, or for an agent only itself. */
export function visibleAgents(core: HubCore, client: Client): string[] {
  if (client.role === 'agent') return [client.id];
  return [...new Set([...core.directory.agents(), ...core.sessions.agents()])].filter((id) => canSeeAgent(client, id)).sort();
}

/** Whether the hub knows the agent at all: it owns a Thing or was seen since start. */
export function isKnownAgent(core: HubCore, agentId: string): boolean {
  return core.directory.countOwnedBy(agentId) > 0 || core.sessions.presence(agentId).lastSeen !== undefined;
}

/**
 * Tells directory subscribers that an agent connected or disconnected. The audience is who may see
 * at least one of its Things, fixed now (like thing_* events), so a resuming client gets it too:
 * consumers when it owns any Thing, and the agent itself; never another agent.
 */
export function announcePresence(
  notify: NotificationRegistry,
  directory: TwinDirectory,
  presence: AgentPresence,
  timestamp: string,
  revision: number | undefined,
): void {
  const { agentId } = presence;
  const ownsAny = directory.countOwnedBy(agentId) > 0;
  if (!ownsAny) return;
  notify.publish(
    { operation: presence.connected ? 'agent_connected' : 'agent_disconnected', agentId, data: presence, timestamp },
    { revision, audience: (client) => canSeeAgent(client, agentId) },
  );
}
