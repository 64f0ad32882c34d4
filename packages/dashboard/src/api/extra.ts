// The calls the dashboard needs that @twinhub/client does not offer (yet), as plain fetch to the
// hub's documented HTTP API (docs/http.md): whoAmI, GET /me, the token's client id and role (an
// HTTP route of the hub, not an envelope operation the client could send).

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
