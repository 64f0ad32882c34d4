// The calls the dashboard needs that @twinhub/client does not offer (yet), as plain fetch to the
// hub's documented HTTP API (docs/http.md). Each is a candidate to move into the client:
// - whoAmI: GET /me, the token's client id and role (the client has no "who am I" call);
// - thingsPage: GET /things with paging, read with X-Total-Count (the client's things() returns
//   the page without the total, which paging needs).

import type { ThingDescription, TwinQuery } from '@twinhub/client/browser';

export type Role = 'admin' | 'operator' | 'viewer' | 'agent';

export interface Me {
  id: string;
  role: Role;
}

/** Why a call to the hub failed, in the terms the UI shows. */
export class HubCallError extends Error {
  constructor(
    /** 0: the hub could not be reached at all. */
    readonly status: number,
    message: string,
    readonly problem?: { title?: string; detail?: string },
  ) {
    super(message);
    this.name = 'HubCallError';
  }

  get unreachable(): boolean {
    return this.status === 0;
  }
  get unauthorized(): boolean {
    return this.status === 401;
  }
}

/** The hub's base URL: the page is served at <base>/ui/…, the API lives at <base>/. */
export function hubBase(): string {
  const { origin } = window.location;
  return origin;
}

async function call(token: string, path: string): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(`${hubBase()}${path}`, { headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' }, cache: 'no-store' });
  } catch (error) {
    throw new HubCallError(0, `The hub at ${hubBase()} cannot be reached (${error instanceof Error ? error.message : String(error)}).`);
  }
  if (!response.ok) {
    const problem = (await response.json().catch(() => undefined)) as { title?: string; detail?: string } | undefined;
    throw new HubCallError(response.status, problem?.detail ?? `${response.status} ${response.statusText}`, problem);
  }
  return response;
}

/** GET /me: who the token belongs to. 401: unknown or revoked token. */
export async function whoAmI(token: string): Promise<Me> {
  return (await (await call(token, '/me')).json()) as Me;
}

export interface ThingsPage {
  things: ThingDescription[];
  total: number;
}

/** One page of twin TDs and how many match in all (GET /things, sorted by id on the hub). */
export async function thingsPage(token: string, query: TwinQuery): Promise<ThingsPage> {
  const params = new URLSearchParams();
  if (query.offset !== undefined) params.set('offset', String(query.offset));
  if (query.limit !== undefined) params.set('limit', String(query.limit));
  if (query.title) params.set('title', query.title);
  if (query.type) params.set('type', query.type);
  if (query.agent) params.set('agent', query.agent);
  for (const [key, value] of Object.entries(query.tags ?? {})) params.append('tag', `${key}:${value}`);
  // The fleet query language (docs/queries.md): an RFC 9535 filter over each twin's query document.
  if (query.filter) params.set('query', query.filter);
  const response = await call(token, `/things?${params}`);
  const things = (await response.json()) as ThingDescription[];
  return { things, total: Number(response.headers.get('X-Total-Count') ?? things.length) };
}
