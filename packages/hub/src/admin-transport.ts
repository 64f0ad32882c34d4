// How `twinhub token|clients` reach the clients and tokens operations: over HTTP on a running hub
// (the /admin routes), or, with --data and the hub stopped, in this process on the folder itself.

import type { AdminOperation, Hub, Problem } from '@twinhub/core';

export interface AdminCall {
  operation: AdminOperation;
  input?: Record<string, string>;
}

/** Runs one operation; resolves its output or rejects with an AdminError. */
export type AdminTransport = (call: AdminCall) => Promise<unknown>;

/** A refused or failed admin operation: one line for the user, and the status to branch on. */
export class AdminError extends Error {
  override name = 'AdminError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const describe = (problem: Problem) => `${problem.detail} (${problem.status} ${problem.title})`;

/** The folder's owner runs with full rights anyway: this identity only names the caller in logs. */
const LOCAL_ADMIN = { id: 'twinhub-cli', role: 'admin' } as const;

export function localTransport(hub: Hub): AdminTransport {
  return async (call) => {
    const result = await hub.handle(call, { client: LOCAL_ADMIN });
    if (!result.ok) throw new AdminError(result.status, describe(result.problem));
    return result.output;
  };
}

const enc = encodeURIComponent;

/** The /admin route of each operation (docs/http.md). */
function route({ operation, input = {} }: AdminCall): { method: string; path: string; body?: unknown } {
  switch (operation) {
    case 'createclient':
      return { method: 'POST', path: '/admin/clients', body: input };
    case 'listclients':
      return { method: 'GET', path: '/admin/clients' };
    case 'deleteclient':
      return { method: 'DELETE', path: `/admin/clients/${enc(input.id!)}` };
    case 'createtoken':
      return { method: 'POST', path: `/admin/clients/${enc(input.clientId!)}/tokens`, body: input.role === undefined ? {} : { role: input.role } };
    case 'listtokens':
      return { method: 'GET', path: input.clientId === undefined ? '/admin/tokens' : `/admin/clients/${enc(input.clientId)}/tokens` };
    case 'revoketoken':
      return input.tokenId !== undefined
        ? { method: 'DELETE', path: `/admin/tokens/${enc(input.tokenId)}` }
        : { method: 'DELETE', path: `/admin/clients/${enc(input.clientId!)}/tokens` };
  }
}

export function httpTransport(baseUrl: string, token: string): AdminTransport {
  const base = baseUrl.replace(/\/+$/, '');
  return async (call) => {
    const { method, path, body } = route(call);
    let response: Response;
    try {
      response = await fetch(`${base}${path}`, {
        method,
        headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(15_000),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const reason = cause?.code ?? cause?.message ?? (error as Error).message;
      throw new AdminError(
        0,
        `hub not reachable at ${base} (${reason}): is \`twinhub serve\` running there? Set --url or TWINHUB_URL, or use --data DIR while the hub is stopped`,
      );
    }
    const text = await response.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw new AdminError(response.status, `${base} answered ${response.status} with no JSON: is it a twinhub hub?`);
    }
    if (response.ok) return json;
    const problem = json as Problem;
    if (response.status === 401)
      throw new AdminError(401, `the hub at ${base} refused the token (401 Unauthorized): give an admin token with TWINHUB_TOKEN or --token`);
    if (response.status === 403) throw new AdminError(403, `the token is not an admin's (403 Forbidden): ${problem.detail}`);
    throw new AdminError(response.status, describe(problem));
  };
}
