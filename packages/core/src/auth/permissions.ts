// The one permission table of the hub. Every binding's requests pass through `checkPermission`,
// so a role can do the same things over HTTP, SSE, WebSocket and MQTT.

import type { Operation } from '../model/operations.js';
import type { Client, Role, Twin } from '../model/types.js';
import { forbidden } from '../model/errors.js';

const READERS: readonly Role[] = ['admin', 'operator', 'viewer', 'agent'];
const CONTROLLERS: readonly Role[] = ['admin', 'operator'];
const DEVICE_SIDE: readonly Role[] = ['admin', 'agent'];
const ADMINS: readonly Role[] = ['admin'];

/**
 * Which roles may run each operation. Agents are further limited to Things they own (see
 * checkPermission); the other roles see every Thing.
 */
export const PERMISSIONS: Readonly<Record<Operation, readonly Role[]>> = {
  readproperty: READERS,
  readallproperties: READERS,
  readmultipleproperties: READERS,
  readstate: READERS,
  observeproperty: READERS,
  unobserveproperty: READERS,
  observeallproperties: READERS,
  unobserveallproperties: READERS,
  subscribeevent: READERS,
  unsubscribeevent: READERS,
  subscribeallevents: READERS,
  unsubscribeallevents: READERS,
  queryaction: READERS,
  queryallactions: READERS,
  writeproperty: CONTROLLERS,
  invokeaction: CONTROLLERS,
  cancelaction: CONTROLLERS,
  retrieveTD: READERS,
  listTDs: READERS,
  subscribedirectory: READERS,
  unsubscribedirectory: READERS,
  readtwin: READERS,
  updatetags: CONTROLLERS,
  updateTD: DEVICE_SIDE,
  patchTD: DEVICE_SIDE,
  deleteTD: DEVICE_SIDE,
  updateproperty: DEVICE_SIDE,
  publishevent: DEVICE_SIDE,
  updateactionstatus: DEVICE_SIDE,
  readdesired: DEVICE_SIDE,
  subscriberequests: ['agent'],
  unsubscriberequests: ['agent'],
  // Presence: consumers see every agent; an agent sees only itself (checkAgentVisible).
  listagents: READERS,
  readagent: READERS,
  createclient: ADMINS,
  listclients: ADMINS,
  deleteclient: ADMINS,
  createtoken: ADMINS,
  listtokens: ADMINS,
  revoketoken: ADMINS,
  // Fleet jobs: controllers run them; consumers may follow them (like queryaction); agents neither.
  createjob: CONTROLLERS,
  readjob: ['admin', 'operator', 'viewer'],
  listjobs: ['admin', 'operator', 'viewer'],
  canceljob: CONTROLLERS,
  // History: whoever may read a value may read its history (a write-only property's only its agent, see history/handlers.ts).
  readpropertyhistory: READERS,
  readeventhistory: READERS,
  readhistorypolicy: ADMINS,
  updatehistorypolicy: ADMINS,
};

/** True when the client may see this agent's presence: consumers see all agents, an agent only itself. */
export function canSeeAgent(client: Client, agentId: string): boolean {
  return client.role !== 'agent' || client.id === agentId;
}

/** True when the client may see this Thing at all (its TD, state, notifications). */
export function canSee(client: Client, twin: Twin): boolean {
  return client.role !== 'agent' || twin.agentId === client.id;
}

/**
 * Throws a 403 HubError unless `client` may run `operation` (on `twin`, when the operation
 * targets an existing Thing). A missing Thing is not decided here: the caller reports 404.
 */
export function checkPermission(client: Client, operation: Operation, twin?: Twin): void {
  const roles = PERMISSIONS[operation];
  if (!roles.includes(client.role)) {
    throw forbidden(`role '${client.role}' may not ${operation}; allowed roles: ${roles.join(', ')}`);
  }
  if (twin && client.role === 'agent' && twin.agentId !== client.id) {
    throw forbidden(`Thing '${twin.thingId}' belongs to another agent; agent '${client.id}' may only ${operation} its own Things`);
  }
}
