// Clients (an id with one role) and their bearer tokens: random secrets handed out once; only their
// SHA-256 is stored, so a copy of the data folder does not reveal usable tokens. (Tokens carry 256 bits of entropy, so a fast hash is
// enough; a slow password hash would buy nothing and cost every authentication.)

import { createHash, randomBytes } from 'node:crypto';
import type { PendingWrite, PersistQueue } from '../store/persist-queue.js';
import type { BucketStore } from '@twinhub/bucket';
import { ROLES, type Client, type Role } from '../model/types.js';
import { badRequest, conflict, notFound } from '../model/errors.js';

export const TOKENS_BUCKET = 'tokens';
export const CLIENTS_BUCKET = 'clients';
const TOKEN_PREFIX = 'th_';
const CLIENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;

export interface TokenInfo {
  /** Short public handle of a token (first 12 hex chars of its hash): what `token revoke` takes. */
  tokenId: string;
  clientId: string;
  role: Role;
  created: string;
}

export interface StoredToken extends TokenInfo {
  hash: string;
}

/** A client as stored (key: its id). */
export interface ClientRecord {
  role: Role;
  created: string;
}

export interface ClientInfo extends ClientRecord {
  id: string;
  /** Live tokens of the client. */
  tokens: number;
}

export interface CreatedToken extends TokenInfo {
  /** The secret: returned this once, never stored. */
  token: string;
}

/** Which tokens to revoke: one by its tokenId, or all of a client's. */
export type RevokeTarget = { tokenId: string } | { clientId: string };

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function checkClientId(id: unknown): string {
  if (typeof id !== 'string' || !CLIENT_ID_PATTERN.test(id)) {
    throw badRequest(`client id ${JSON.stringify(id)} is invalid: use 1-128 letters, digits, '.', '_', ':', '@' or '-', starting with a letter or digit`);
  }
  return id;
}

export class TokenService {
  private readonly byHash = new Map<string, StoredToken>();
  /** Live token count per client: one client id has one role, so this answers clientById. */
  private readonly byClient = new Map<string, { role: Role; tokens: number }>();
  /** Every client, with or without tokens (tokens from before client records imply theirs). */
  private readonly clients = new Map<string, ClientRecord>();

  constructor(
    private readonly persist: PersistQueue,
    private readonly onClientRevoked: (clientId: string) => void,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async load(store: BucketStore): Promise<void> {
    for await (const [id, json] of store.bucket(CLIENTS_BUCKET).entries()) this.clients.set(id, JSON.parse(json) as ClientRecord);
    for await (const [hash, json] of store.bucket(TOKENS_BUCKET).entries()) {
      this.remember({ ...(JSON.parse(json) as StoredToken), hash });
    }
  }

  /** Creates a client, or finds it when it exists with this role (409 for another role). */
  async createClient(options: { id: unknown; role: unknown }): Promise<{ client: ClientInfo; created: boolean }> {
    const id = checkClientId(options.id);
    const role = checkRole(options.role);
    const existing = this.clients.get(id);
    if (existing) {
      if (existing.role !== role) throw roleClash(id, existing.role);
      return { client: this.info(id, existing), created: false };
    }
    const record: ClientRecord = { role, created: this.now().toISOString() };
    this.clients.set(id, record);
    await this.persist.write([{ bucket: CLIENTS_BUCKET, key: id, value: record }]);
    return { client: this.info(id, record), created: true };
  }

  listClients(): ClientInfo[] {
    return [...this.clients].map(([id, record]) => this.info(id, record)).sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Deletes a client and revokes its tokens (its live sessions end). */
  async deleteClient(id: string): Promise<void> {
    if (!this.clients.has(id)) throw unknownClient(id);
    const tokens = this.tokensOf(id);
    for (const t of tokens) this.forget(t);
    this.clients.delete(id);
    await this.persist.write([
      ...tokens.map((t) => ({ bucket: TOKENS_BUCKET, key: t.hash, value: undefined })),
      { bucket: CLIENTS_BUCKET, key: id, value: undefined },
    ]);
    this.onClientRevoked(id);
  }

  /**
   * Issues a token for a client; the plain token is returned once and never stored. A role
   * creates the client when it is new and must match its role when it exists (409 otherwise).
   */
  async create(options: { id: unknown; role?: unknown }): Promise<CreatedToken> {
    const clientId = checkClientId(options.id);
    const role = options.role === undefined ? undefined : checkRole(options.role);
    const existing = this.clients.get(clientId);
    if (existing && role !== undefined && existing.role !== role) throw roleClash(clientId, existing.role);
    if (!existing && role === undefined) throw unknownClient(clientId, `; give a role to create it`);
    const writes: PendingWrite[] = [];
    const client = existing ?? { role: role!, created: this.now().toISOString() };
    if (!existing) {
      this.clients.set(clientId, client);
      writes.push({ bucket: CLIENTS_BUCKET, key: clientId, value: client });
    }
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const stored = this.remember(this.record(hashToken(token), clientId, client.role));
    const { hash, ...persisted } = stored;
    writes.push({ bucket: TOKENS_BUCKET, key: hash, value: persisted });
    await this.persist.write(writes);
    return { ...persisted, token };
  }

  /**
   * Accepts a token chosen by the operator (TWINHUB_ADMIN_TOKEN) for this process only: it is
   * never written to the store, so it stops working when the hub runs without it.
   */
  acceptUnstored(token: string, client: Client): TokenInfo {
    if (!token.startsWith(TOKEN_PREFIX)) throw badRequest(`a token starts with '${TOKEN_PREFIX}'`);
    const existing = this.clients.get(client.id);
    if (existing && existing.role !== client.role) throw roleClash(client.id, existing.role);
    if (!existing) this.clients.set(client.id, { role: client.role, created: this.now().toISOString() });
    const { hash: _omit, ...info } = this.remember(this.record(hashToken(token), client.id, client.role));
    return info;
  }

  authenticate(token: string): Client | undefined {
    if (!token.startsWith(TOKEN_PREFIX)) return undefined;
    const stored = this.byHash.get(hashToken(token));
    return stored ? { id: stored.clientId, role: stored.role } : undefined;
  }

  /** Tokens (never their secrets), oldest first: all, or one client's (404 for an unknown client). */
  list(clientId?: string): TokenInfo[] {
    if (clientId !== undefined && !this.clients.has(clientId)) throw unknownClient(clientId);
    const tokens = clientId === undefined ? [...this.byHash.values()] : this.tokensOf(clientId);
    return tokens.map(({ hash: _omit, ...info }) => info).sort((a, b) => a.created.localeCompare(b.created));
  }

  clientById(clientId: string): Client | undefined {
    const entry = this.byClient.get(clientId);
    return entry ? { id: clientId, role: entry.role } : undefined;
  }

  hasRole(role: Role): boolean {
    for (const entry of this.byClient.values()) if (entry.role === role) return true;
    return false;
  }

  /** A token record another writer committed (cluster mode): created, or revoked (undefined). */
  applyRecord(hash: string, record: Omit<StoredToken, 'hash'> | undefined): void {
    const known = this.byHash.get(hash);
    if (known) this.forget(known);
    if (record) this.remember({ ...record, hash });
    else if (known && !this.clientById(known.clientId)) this.onClientRevoked(known.clientId);
  }

  /** A client record another writer committed (cluster mode): created, or deleted (undefined). */
  applyClientRecord(id: string, record: ClientRecord | undefined): void {
    if (record) this.clients.set(id, record);
    else this.clients.delete(id);
  }

  /**
   * Revokes a token by its tokenId, or every token of a client. Returns how many were revoked
   * (404 when none matched). Clients left without any token lose their live sessions.
   */
  async revoke(target: RevokeTarget): Promise<number> {
    const revoked = 'tokenId' in target ? [...this.byHash.values()].filter((t) => t.tokenId === target.tokenId) : this.tokensOf(checkClientId(target.clientId));
    if (revoked.length === 0) {
      throw notFound('tokenId' in target ? `no token with id '${target.tokenId}'` : `client '${target.clientId}' has no tokens`);
    }
    for (const t of revoked) this.forget(t);
    await this.persist.write(revoked.map((t) => ({ bucket: TOKENS_BUCKET, key: t.hash, value: undefined })));
    for (const clientId of new Set(revoked.map((t) => t.clientId))) {
      if (!this.clientById(clientId)) this.onClientRevoked(clientId);
    }
    return revoked.length;
  }

  private record(hash: string, clientId: string, role: Role): StoredToken {
    return { hash, tokenId: hash.slice(0, 12), clientId, role, created: this.now().toISOString() };
  }

  private tokensOf(clientId: string): StoredToken[] {
    return [...this.byHash.values()].filter((t) => t.clientId === clientId);
  }

  private info(id: string, record: ClientRecord): ClientInfo {
    return { id, ...record, tokens: this.byClient.get(id)?.tokens ?? 0 };
  }

  private remember(stored: StoredToken): StoredToken {
    this.byHash.set(stored.hash, stored);
    // Tokens issued before clients had records of their own imply the client.
    if (!this.clients.has(stored.clientId)) this.clients.set(stored.clientId, { role: stored.role, created: stored.created });
    const entry = this.byClient.get(stored.clientId);
    if (entry) entry.tokens++;
    else this.byClient.set(stored.clientId, { role: stored.role, tokens: 1 });
    return stored;
  }

  private forget(stored: StoredToken): void {
    this.byHash.delete(stored.hash);
    const entry = this.byClient.get(stored.clientId);
    if (entry && --entry.tokens === 0) this.byClient.delete(stored.clientId);
  }
}

function checkRole(role: unknown): Role {
  if (!ROLES.includes(role as Role)) throw badRequest(`role ${JSON.stringify(role)} is unknown; use one of ${ROLES.join(', ')}`);
  return role as Role;
}

const roleClash = (id: string, role: Role) => conflict(`client '${id}' already has role '${role}'; one client id has one role`);
const unknownClient = (id: string, hint = '') => notFound(`no client '${id}'${hint}`);
