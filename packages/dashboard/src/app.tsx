// The app shell: sign-in until there is a session, then the header (navigation, who is signed in,
// sign-out), the connection banner, and the current page. Directory activity is collected here so
// it survives moving between pages.

import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { ConnectionState } from '@twinhub/client/browser';
import { whoAmI } from './api/extra.js';
import { type ActivityEntry, ACTIVITY_LIMIT, toEntry } from './activity.js';
import { onLinkClick, type Page, pathOf, usePage } from './router.js';
import { abilities, forgetToken, openSession, type Session, SessionContext, storedToken } from './session.js';
import { ActivityView } from './views/activity.js';
import { AdminView } from './views/admin.js';
import { FleetView } from './views/fleet.js';
import { SignIn, signInProblem } from './views/signin.js';
import { TwinView } from './views/twin.js';

export function App() {
  const [session, setSession] = useState<Session>();
  const [restoring, setRestoring] = useState(() => storedToken() !== undefined);
  const [notice, setNotice] = useState<string>();

  // A reload keeps the session: the stored token is checked and reconnected.
  useEffect(() => {
    const token = storedToken();
    if (!token) return;
    openSession(token)
      .then(setSession)
      .catch((error: unknown) => {
        forgetToken();
        setNotice(signInProblem(error));
      })
      .finally(() => setRestoring(false));
  }, []);

  const signOut = useCallback(
    (why?: string) => {
      forgetToken();
      void session?.client.close();
      setSession(undefined);
      setNotice(why);
    },
    [session],
  );

  if (!session) {
    return (
      <SignIn
        busy={restoring}
        notice={notice}
        onSignedIn={(opened) => {
          setNotice(undefined);
          setSession(opened);
        }}
      />
    );
  }
  return (
    <SessionContext.Provider value={session}>
      <Shell session={session} onSignOut={signOut} />
    </SessionContext.Provider>
  );
}

function Shell({ session, onSignOut }: { session: Session; onSignOut(why?: string): void }) {
  const page = usePage();
  const can = abilities(session.me);
  const [activity, setActivity] = useState<ActivityEntry[]>([]);

  useEffect(() => {
    let stopped = false;
    const subscription = session.client.onDirectory((notification) => {
      const entry = toEntry(notification);
      if (entry && !stopped) setActivity((previous) => [entry, ...previous].slice(0, ACTIVITY_LIMIT));
    });
    return () => {
      stopped = true;
      void subscription.then((s) => s.unsubscribe()).catch(() => undefined);
    };
  }, [session]);

  const links: Array<{ page: Page; label: string }> = [
    { page: { name: 'fleet' }, label: 'Fleet' },
    { page: { name: 'activity' }, label: 'Activity' },
    ...(can.admin ? [{ page: { name: 'admin' } as Page, label: 'Admin' }] : []),
  ];

  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={pathOf({ name: 'fleet' })} onClick={onLinkClick({ name: 'fleet' })}>
          twinhub
        </a>
        <nav aria-label="Main">
          <ul>
            {links.map(({ page: target, label }) => (
              <li key={label}>
                <a
                  href={pathOf(target)}
                  onClick={onLinkClick(target)}
                  aria-current={target.name === page.name || (target.name === 'fleet' && page.name === 'twin') ? 'page' : undefined}
                >
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span>
            Signed in as <strong data-testid="me-id">{session.me.id}</strong> <span class={`role role-${session.me.role}`}>{session.me.role}</span>
          </span>
          <button type="button" onClick={() => onSignOut()}>
            Sign out
          </button>
        </div>
      </header>
      <ConnectionBanner
        session={session}
        onRevoked={() => onSignOut('The hub no longer accepts your token (it was revoked or deleted). Sign in with another token.')}
      />
      <main id="main" tabIndex={-1}>
        {page.name === 'fleet' && <FleetView />}
        {page.name === 'twin' && <TwinView key={page.thingId} thingId={page.thingId} />}
        {page.name === 'activity' && <ActivityView entries={activity} />}
        {page.name === 'admin' &&
          (can.admin ? (
            <AdminView />
          ) : (
            <p class="notice" role="alert">
              Only admins see this page.
            </p>
          ))}
        {page.name === 'missing' && (
          <p class="notice" role="alert">
            There is no page at {page.path}.{' '}
            <a href={pathOf({ name: 'fleet' })} onClick={onLinkClick({ name: 'fleet' })}>
              Go to the fleet
            </a>
            .
          </p>
        )}
      </main>
    </>
  );
}

type Health = { kind: 'ok' } | { kind: 'reconnecting' } | { kind: 'unreachable'; detail: string };

/**
 * Says when the live connection is down and why: the hub cannot be reached (retrying), or the
 * token stopped working (revoked: the session ends, since retrying cannot help).
 */
function ConnectionBanner({ session, onRevoked }: { session: Session; onRevoked(): void }) {
  const [health, setHealth] = useState<Health>({ kind: 'ok' });
  const revoked = useRef(onRevoked);
  revoked.current = onRevoked;

  useEffect(() => {
    let current = true;
    let probing = false;
    const probe = async () => {
      // A browser never sees why a WebSocket upgrade failed: ask the hub over HTTP who we are.
      if (probing) return;
      probing = true;
      try {
        await whoAmI(session.token);
        if (current && session.client.state !== 'connected') setHealth({ kind: 'reconnecting' });
      } catch (error) {
        if (!current) return;
        const status = (error as { status?: number }).status;
        if (status === 401) revoked.current();
        else setHealth({ kind: 'unreachable', detail: error instanceof Error ? error.message : String(error) });
      } finally {
        probing = false;
      }
    };
    const onState = (state: ConnectionState) => {
      if (!current) return;
      if (state === 'connected') setHealth({ kind: 'ok' });
      else if (state === 'reconnecting') void probe();
    };
    const stop = session.client.onState(onState);
    // While down, check again every few seconds: the hub may come back, or the token be revoked.
    const timer = window.setInterval(() => {
      if (session.client.state === 'reconnecting') void probe();
    }, 3000);
    return () => {
      current = false;
      stop();
      window.clearInterval(timer);
    };
  }, [session]);

  if (health.kind === 'ok') return null;
  return (
    <div class="banner" role="alert" data-health={health.kind}>
      {health.kind === 'unreachable'
        ? `The hub is unreachable: ${health.detail} Retrying; what you see may be out of date.`
        : 'Connection to the hub lost; reconnecting… What you see may be out of date.'}
    </div>
  );
}
