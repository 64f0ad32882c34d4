// Clients and tokens as operations (admin only, by the permission table): every binding reaches
// them through hub.handle(). The rules (one role per client id, secrets shown once) are TokenService's.

import { ok, type HandlerTable } from '../core-context.js';
import { badRequest } from '../model/errors.js';
import type { HubRequest } from '../model/operations.js';

/** The request's input as an object of fields (absent input: no fields). */
function fields(request: HubRequest): Record<string, unknown> {
  const { input } = request;
  if (input === undefined) return {};
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw badRequest(`${request.operation} takes an object as input`);
  return input as Record<string, unknown>;
}

function text(request: HubRequest, name: string): string {
  const value = fields(request)[name];
  if (typeof value !== 'string' || value === '') throw badRequest(`${request.operation} needs input.${name} (a string)`);
  return value;
}

export const clientHandlers: HandlerTable = {
  async createclient(core, request) {
    const { id, role } = fields(request);
    const { client, created } = await core.tokens.createClient({ id, role });
    return ok(client, created ? 201 : 200);
  },

  async listclients(core) {
    return ok(core.tokens.listClients());
  },

  async deleteclient(core, request) {
    await core.tokens.deleteClient(text(request, 'id'));
    return ok(undefined, 204);
  },

  async createtoken(core, request) {
    const { clientId, role } = fields(request);
    return ok(await core.tokens.create({ id: clientId, role }), 201);
  },

  async listtokens(core, request) {
    const { clientId } = fields(request);
    if (clientId !== undefined && typeof clientId !== 'string') throw badRequest('listtokens takes input.clientId as a string');
    return ok(core.tokens.list(clientId));
  },

  async revoketoken(core, request) {
    const { tokenId, clientId } = fields(request);
    if ((tokenId === undefined) === (clientId === undefined)) throw badRequest('revoketoken needs exactly one of input.tokenId and input.clientId');
    const revoked = await core.tokens.revoke(tokenId !== undefined ? { tokenId: text(request, 'tokenId') } : { clientId: text(request, 'clientId') });
    return ok({ revoked });
  },
};
