// Admin: clients and their tokens (create a token, shown once; revoke one or all; delete a
// client) and the agents with their presence, kept live by the directory's presence notifications.

import { useCallback, useEffect, useState } from 'preact/hooks';
import { ProblemText } from '../components/problem.js';
import { showAge, showTime } from '../format.js';
import { useSession } from '../session.js';

interface ClientInfo {
  id: string;
  role: string;
  created?: string;
  tokens?: number;
}

interface TokenInfo {
  tokenId: string;
  clientId: string;
  role: string;
  created?: string;
}

interface AgentInfo {
  agentId: string;
  connected: boolean;
  sessions?: number;
  since?: string;
  lastSeen?: string;
  things?: string[];
}

interface CreatedToken {
  token: string;
  clientId: string;
  role: string;
}

const ROLES = ['agent', 'operator', 'viewer', 'admin'] as const;

export function AdminView() {
  const { client } = useSession();
  const [clients, setClients] = useState<ClientInfo[]>([]);
  const [tokens, setTokens] = useState<TokenInfo[]>([]);
  const [agents, setAgents] = useState<AgentInfo[]>([]);
  const [problem, setProblem] = useState<unknown>();
  const [clientId, setClientId] = useState('');
  const [role, setRole] = useState<(typeof ROLES)[number]>('agent');
  const [created, setCreated] = useState<CreatedToken>();
  const [createProblem, setCreateProblem] = useState<unknown>();
  const [copied, setCopied] = useState<string>();

  const load = useCallback(async () => {
    try {
      const [clientList, tokenList, agentList] = await Promise.all([
        client.request({ operation: 'listclients' }) as Promise<ClientInfo[]>,
        client.request({ operation: 'listtokens' }) as Promise<TokenInfo[]>,
        client.request({ operation: 'listagents', query: { limit: 1000 } }) as Promise<AgentInfo[]>,
      ]);
      setClients(clientList);
      setTokens(tokenList);
      setAgents(agentList);
      setProblem(undefined);
    } catch (error) {
      setProblem(error);
    }
  }, [client]);

  useEffect(() => {
    void load();
    let timer: number | undefined;
    const subscription = client.onDirectory((notification) => {
      if (notification.operation !== 'agent_connected' && notification.operation !== 'agent_disconnected' && notification.operation !== 'thing_created') return;
      window.clearTimeout(timer);
      timer = window.setTimeout(() => void load(), 200);
    });
    return () => {
      window.clearTimeout(timer);
      void subscription.then((s) => s.unsubscribe()).catch(() => undefined);
    };
  }, [client, load]);

  async function createToken(event: Event) {
    event.preventDefault();
    setCreateProblem(undefined);
    setCreated(undefined);
    setCopied(undefined);
    try {
      const answer = (await client.request({ operation: 'createtoken', input: { clientId: clientId.trim(), role } })) as CreatedToken;
      setCreated(answer);
      setClientId('');
      void load();
    } catch (error) {
      setCreateProblem(error);
    }
  }

  async function act(request: Parameters<typeof client.request>[0], confirmText: string) {
    if (!window.confirm(confirmText)) return;
    try {
      await client.request(request);
      await load();
    } catch (error) {
      setProblem(error);
    }
  }

  async function copyToken() {
    if (!created) return;
    try {
      await navigator.clipboard.writeText(created.token);
      setCopied('Copied.');
    } catch {
      setCopied('Select the token and copy it with Ctrl+C (⌘C).');
    }
  }

  return (
    <section aria-labelledby="admin-heading">
      <h1 id="admin-heading">Admin</h1>
      <ProblemText error={problem} />

      <section aria-labelledby="create-heading" class="card">
        <h2 id="create-heading">Create a token</h2>
        <form onSubmit={createToken} class="create-token">
          <div class="field">
            <label for="new-client-id">Client id</label>
            <input id="new-client-id" value={clientId} required onInput={(e) => setClientId(e.currentTarget.value)} autoComplete="off" spellcheck={false} />
          </div>
          <div class="field">
            <label for="new-client-role">Role</label>
            <select id="new-client-role" value={role} onChange={(e) => setRole(e.currentTarget.value as (typeof ROLES)[number])}>
              {ROLES.map((option) => (
                <option key={option} value={option}>
                  {option}
                </option>
              ))}
            </select>
          </div>
          <button type="submit">Create token</button>
        </form>
        <ProblemText error={createProblem} />
        {created && (
          <div class="once" role="status" data-testid="new-token">
            <p>
              Token for <strong>{created.clientId}</strong> ({created.role}). <strong>It is shown only this once</strong>: copy it now.
            </p>
            <label for="created-token">New token</label>
            <input id="created-token" readOnly value={created.token} onFocus={(e) => e.currentTarget.select()} spellcheck={false} />
            <button type="button" onClick={() => void copyToken()}>
              Copy token
            </button>{' '}
            <button type="button" onClick={() => setCreated(undefined)}>
              Done
            </button>
            <span aria-live="polite"> {copied}</span>
          </div>
        )}
      </section>

      <section aria-labelledby="clients-heading">
        <h2 id="clients-heading">Clients</h2>
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Client</th>
                <th scope="col">Role</th>
                <th scope="col">Created</th>
                <th scope="col">Tokens</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {clients.map((info) => (
                <tr key={info.id} data-client-id={info.id}>
                  <th scope="row">{info.id}</th>
                  <td>{info.role}</td>
                  <td>{showTime(info.created)}</td>
                  <td>{info.tokens ?? 0}</td>
                  <td class="actions">
                    {(info.tokens ?? 0) > 0 && (
                      <button
                        type="button"
                        onClick={() =>
                          void act({ operation: 'revoketoken', input: { clientId: info.id } }, `Revoke every token of ${info.id}? Its sessions end.`)
                        }
                      >
                        Revoke all tokens of {info.id}
                      </button>
                    )}{' '}
                    <button
                      type="button"
                      onClick={() => void act({ operation: 'deleteclient', input: { id: info.id } }, `Delete client ${info.id}? Its tokens are revoked.`)}
                    >
                      Delete {info.id}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>

      <section aria-labelledby="tokens-heading">
        <h2 id="tokens-heading">Tokens</h2>
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Token id</th>
                <th scope="col">Client</th>
                <th scope="col">Role</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {tokens.map((token) => (
                <tr key={token.tokenId} data-token-id={token.tokenId}>
                  <td>
                    <code>{token.tokenId}</code>
                  </td>
                  <td>{token.clientId}</td>
                  <td>{token.role}</td>
                  <td>{showTime(token.created)}</td>
                  <td class="actions">
                    <button
                      type="button"
                      onClick={() =>
                        void act({ operation: 'revoketoken', input: { tokenId: token.tokenId } }, `Revoke token ${token.tokenId} of ${token.clientId}?`)
                      }
                    >
                      Revoke {token.tokenId}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>

      <section aria-labelledby="agents-heading">
        <h2 id="agents-heading">Agents</h2>
        {agents.length === 0 && <p>No agent has registered a Thing or connected yet.</p>}
        <div class="table-wrap">
          <table class="agents">
            <thead>
              <tr>
                <th scope="col">Agent</th>
                <th scope="col">Presence</th>
                <th scope="col">Sessions</th>
                <th scope="col">Things</th>
              </tr>
            </thead>
            <tbody>
              {agents.map((agent) => (
                <tr key={agent.agentId} data-agent-id={agent.agentId}>
                  <th scope="row">{agent.agentId}</th>
                  <td>
                    <span class={`presence ${agent.connected ? 'online' : 'offline'}`}>{agent.connected ? 'online' : 'offline'}</span>
                    <div class="sub">
                      {agent.connected ? `since ${showTime(agent.since)}` : agent.lastSeen ? `last seen ${showAge(agent.lastSeen)}` : 'never seen'}
                    </div>
                  </td>
                  <td>{agent.sessions ?? 0}</td>
                  <td>{agent.things?.length ?? 0}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    </section>
  );
}
