// `twinhub token create|list|revoke` and `twinhub clients list|create|delete`: each runs clients
// and tokens operations through a transport (HTTP to the running hub, or the data folder) and
// prints the outcome; tables are aligned under a header.

import type { ClientInfo, CreatedToken, TokenInfo } from '@twinhub/core';
import { AdminError, type AdminTransport } from './admin-transport.js';
import { ConfigError } from './config.js';

export interface AdminFlags {
  role?: string;
  id?: string;
}

const out = (line: string) => process.stdout.write(`${line}\n`);

/** Columns padded to their widest cell; the last column is not padded. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [header, ...rows].map((cells) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n');
}

export async function tokenCommand(action: string | undefined, target: string | undefined, flags: AdminFlags, run: AdminTransport): Promise<void> {
  if (action === 'create') {
    if (!flags.id) throw new ConfigError('token create needs --id <clientId> (and --role <role> for a new client)');
    const created = (await run({ operation: 'createtoken', input: { clientId: flags.id, ...(flags.role ? { role: flags.role } : {}) } })) as CreatedToken;
    out(created.token);
    process.stderr.write(`token ${created.tokenId} for ${created.clientId} (${created.role}); it is shown only this once\n`);
  } else if (action === 'list') {
    const tokens = (await run({ operation: 'listtokens', ...(target ? { input: { clientId: target } } : {}) })) as TokenInfo[];
    out(
      table(
        ['TOKEN ID', 'ROLE', 'CLIENT', 'CREATED'],
        tokens.map((t) => [t.tokenId, t.role, t.clientId, t.created]),
      ),
    );
  } else if (action === 'revoke') {
    if (!target) throw new ConfigError('token revoke needs a tokenId or a clientId');
    out(`revoked ${await revoke(target, run)} token(s)`);
  } else {
    throw new ConfigError(`unknown token command '${action ?? ''}'; use create, list or revoke`);
  }
}

/** A tokenId, else a client id (the two never look alike in practice: tokenIds are 12 hex digits). */
async function revoke(target: string, run: AdminTransport): Promise<number> {
  try {
    // Over HTTP a single revocation answers 204 without a body.
    const result = (await run({ operation: 'revoketoken', input: { tokenId: target } })) as { revoked: number } | undefined;
    return result?.revoked ?? 1;
  } catch (error) {
    if (!(error instanceof AdminError) || error.status !== 404) throw error;
  }
  try {
    return ((await run({ operation: 'revoketoken', input: { clientId: target } })) as { revoked: number }).revoked;
  } catch (error) {
    if (error instanceof AdminError && error.status === 404) throw new AdminError(404, `no token with id or client id '${target}'`);
    throw error;
  }
}

export async function clientsCommand(action: string | undefined, target: string | undefined, flags: AdminFlags, run: AdminTransport): Promise<void> {
  if (action === 'list') {
    const clients = (await run({ operation: 'listclients' })) as ClientInfo[];
    out(
      table(
        ['CLIENT', 'ROLE', 'TOKENS', 'CREATED'],
        clients.map((c) => [c.id, c.role, String(c.tokens), c.created]),
      ),
    );
  } else if (action === 'create') {
    if (!flags.id || !flags.role) throw new ConfigError('clients create needs --id <clientId> and --role <role>');
    const client = (await run({ operation: 'createclient', input: { id: flags.id, role: flags.role } })) as ClientInfo;
    out(`client ${client.id} (${client.role})`);
  } else if (action === 'delete') {
    if (!target) throw new ConfigError('clients delete needs a client id');
    await run({ operation: 'deleteclient', input: { id: target } });
    out(`deleted client ${target}; its tokens are revoked`);
  } else {
    throw new ConfigError(`unknown clients command '${action ?? ''}'; use list, create or delete`);
  }
}
