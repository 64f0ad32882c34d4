// The signed-in session: the token (kept in sessionStorage, so it lives as long as the tab and a
// sign-out clears it), who it belongs to (GET /me), and the live client connection to the hub.

import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import { type ConsumerClient, connectConsumer } from '@twinhub/client/browser';
import { hubBase, type Me, whoAmI } from './api/extra.js';

const TOKEN_KEY = 'twinhub.token';

export interface Session {
  token: string;
  me: Me;
  client: ConsumerClient;
}

export function storedToken(): string | undefined {
  return window.sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

export function forgetToken(): void {
  window.sessionStorage.removeItem(TOKEN_KEY);
}

/** Checks the token with the hub, then connects; the token is stored only once both worked. */
export async function openSession(token: string): Promise<Session> {
  const me = await whoAmI(token);
  const client = await connectConsumer({
    url: hubBase(),
    token,
    requestTimeoutMs: 15_000,
    // Reconnect soon after a drop (the banner says so), at most every 5 s while the hub is away.
    backoff: { initialMs: 250, maxMs: 5_000 },
    onWarning: (message) => console.warn(`twinhub client: ${message}`),
  });
  window.sessionStorage.setItem(TOKEN_KEY, token);
  return { token, me, client };
}

/** What the role may do in the UI; the hub enforces the same rules (403) whatever the UI shows. */
export interface Abilities {
  write: boolean;
  invoke: boolean;
  editTags: boolean;
  admin: boolean;
}

export function abilities(me: Me): Abilities {
  const operates = me.role === 'admin' || me.role === 'operator';
  return { write: operates, invoke: operates, editTags: operates, admin: me.role === 'admin' };
}

export const SessionContext = createContext<Session | undefined>(undefined);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside a signed-in page');
  return session;
}
