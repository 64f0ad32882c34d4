// The sign-in form: a token (an admin hands it out with `twinhub token create` or the Admin page),
// checked with the hub before anything else is shown.

import { useState } from 'preact/hooks';
import { HubCallError } from '../api/extra.js';
import { openSession, type Session } from '../session.js';

export interface SignInProps {
  onSignedIn(session: Session): void;
  /** Why the last session ended (revoked token, unreachable hub), shown above the form. */
  notice?: string;
  busy?: boolean;
}

export function SignIn({ onSignedIn, notice, busy }: SignInProps) {
  const [token, setToken] = useState('');
  const [problem, setProblem] = useState<string>();
  const [working, setWorking] = useState(false);

  async function submit(event: Event) {
    event.preventDefault();
    const trimmed = token.trim();
    if (!trimmed) {
      setProblem('Enter a token.');
      return;
    }
    setWorking(true);
    setProblem(undefined);
    try {
      onSignedIn(await openSession(trimmed));
    } catch (error) {
      setProblem(signInProblem(error));
    } finally {
      setWorking(false);
    }
  }

  return (
    <main class="signin">
      <h1>twinhub</h1>
      <p>Sign in with an access token to see the fleet.</p>
      {notice && (
        <p class="notice" role="alert">
          {notice}
        </p>
      )}
      <form onSubmit={submit} aria-describedby={problem ? 'signin-problem' : undefined}>
        <label for="token">Access token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="off"
          spellcheck={false}
          value={token}
          onInput={(e) => setToken(e.currentTarget.value)}
          aria-invalid={problem ? 'true' : undefined}
          aria-describedby={problem ? 'signin-problem' : undefined}
          required
        />
        <button type="submit" disabled={working || busy}>
          {working || busy ? 'Signing in…' : 'Sign in'}
        </button>
        {problem && (
          <p id="signin-problem" class="problem" role="alert">
            {problem}
          </p>
        )}
      </form>
      <p class="hint">The token is kept in this tab only (session storage) until you sign out or close the tab.</p>
    </main>
  );
}

export function signInProblem(error: unknown): string {
  if (error instanceof HubCallError) {
    if (error.unauthorized) return 'The hub refused this token: it is unknown or was revoked.';
    if (error.unreachable) return error.message;
    return `The hub answered ${error.status}: ${error.message}`;
  }
  return `Could not connect to the hub: ${error instanceof Error ? error.message : String(error)}`;
}
