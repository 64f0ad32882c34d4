// Bearer tokens: random secrets handed out once; only their SHA-256 is stored, so a copy of the
// data folder does not reveal usable tokens. (Tokens carry 256 bits of entropy, so a fast hash is
// enough; a slow password hash would buy nothing and cost every authentication.)

import { createHash, randomBytes } from 'node:crypto';
import type { PersistQueue } from '../store/persist-queue.js';
import type { BucketStore } from '@twinhub/bucket';
import { ROLES, type Client, type Role } from '../model/types.js';
import { badRequest } from '../model/errors.js';

export const TOKENS_BUCKET = 'tokens';
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

  constructor(
    private readonly persist: PersistQueue,
    private readonly onClientRevoked: (clientId: string) => void,
  ) {}

  async load(store: BucketStore): Promise<void> {
    for await (const [hash, json] of store.bucket(TOKENS_BUCKET).entries()) {
      this.remember({ ...(JSON.parse(json) as StoredToken), hash });
    }
  }

  /** Creates a token for a client; the plain token is returned once and never stored. */
  async create(options: { id: string; role: Role }): Promise<{ token: string; client: Client; tokenId: string }> {
    const clientId = checkClientId(options.id);
    if (!ROLES.includes(options.role)) throw badRequest(`role ${JSON.stringify(options.role)} is unknown; use one of ${ROLES.join(', ')}`);
    const existing = this.clientById(clientId);
    if (existing && existing.role !== options.role) {
      throw badRequest(`client '${clientId}' already has role '${existing.role}'; one client id has one role`);
    }
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const hash = hashToken(token);
    const stored: StoredToken = { hash, tokenId: hash.slice(0, 12), clientId, role: options.role, created: new Date().toISOString() };
    this.remember(stored);
    const { hash: _omit, ...persisted } = stored;
    await this.persist.write([{ bucket: TOKENS_BUCKET, key: hash, value: persisted }]);
    return { token, client: { id: clientId, role: options.role }, tokenId: stored.tokenId };
  }

  authenticate(token: string): Client | undefined {
    if (!token.startsWith(TOKEN_PREFIX)) return undefined;
    const stored = this.byHash.get(hashToken(token));
    return stored ? { id: stored.clientId, role: stored.role } : undefined;
  }

  list(): TokenInfo[] {
    return [...this.byHash.values()].map(({ hash: _omit, ...info }) => info).sort((a, b) => a.created.localeCompare(b.created));
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

  private remember(stored: StoredToken): void {
    this.byHash.set(stored.hash, stored);
    const entry = this.byClient.get(stored.clientId);
    if (entry) entry.tokens++;
    else this.byClient.set(stored.clientId, { role: stored.role, tokens: 1 });
  }

  private forget(stored: StoredToken): void {
    this.byHash.delete(stored.hash);
    const entry = this.byClient.get(stored.clientId);
    if (entry && --entry.tokens === 0) this.byClient.delete(stored.clientId);
  }

  /**
   * Revokes a token by its tokenId, or every token of a client by client id. Returns how many
   * were revoked. Clients left without any token lose their live sessions.
   */
  async revoke(tokenIdOrClientId: string): Promise<number> {
    const revoked = [...this.byHash.values()].filter((t) => t.tokenId === tokenIdOrClientId || t.clientId === tokenIdOrClientId);
    for (const t of revoked) this.forget(t);
    await this.persist.write(revoked.map((t) => ({ bucket: TOKENS_BUCKET, key: t.hash, value: undefined })));
    for (const clientId of new Set(revoked.map((t) => t.clientId))) {
      if (!this.clientById(clientId)) this.onClientRevoked(clientId);
    }
    return revoked.length;
  }
}
