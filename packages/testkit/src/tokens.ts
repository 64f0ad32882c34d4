// One token per role, with the client ids tests refer to (agent-1 owns the lamp; agent-2 is the
// other agent an isolation test needs).
import type { Hub } from '@twinhub/core';

export interface RoleTokens {
  admin: string;
  agent: string;
  otherAgent: string;
  operator: string;
  viewer: string;
}

export async function createTokens(hub: Pick<Hub, 'tokens'>): Promise<RoleTokens> {
  const create = async (id: string, role: 'admin' | 'agent' | 'operator' | 'viewer') => (await hub.tokens.create({ id, role })).token;
  return {
    admin: await create('admin-1', 'admin'),
    agent: await create('agent-1', 'agent'),
    otherAgent: await create('agent-2', 'agent'),
    operator: await create('operator-1', 'operator'),
    viewer: await create('viewer-1', 'viewer'),
  };
}
