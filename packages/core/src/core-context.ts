// What operation handlers share: the domain modules and the few hub services they call back into.
// Handlers are plain functions over this context, so each domain's operations sit in its own module.

import type { Logger } from 'pino';
import type { TokenService } from './auth/tokens.js';
import type { Membership } from './cluster/membership.js';
import type { TwinDirectory } from './directory/directory.js';
import type { JobService } from './jobs/service.js';
import type { HistoryService } from './history/service.js';
import type { HubLimits } from './model/hub-api.js';
import type { HubContext, HubRequest, HubSuccess, Operation } from './model/operations.js';
import type { Client, ThingDescription, Twin } from './model/types.js';
import type { NotificationRegistry } from './notify/registry.js';
import type { RequestService } from './requests/service.js';
import type { SessionRegistry } from './sessions/registry.js';
import type { TwinStateStore } from './state/state.js';
import type { PersistQueue } from './store/persist-queue.js';
import { badRequest, notFound, payloadTooLarge } from './model/errors.js';
import { validateAgainstSchema } from './td/index.js';

export interface HubCore {
  readonly limits: HubLimits;
  readonly log: Logger;
  readonly directory: TwinDirectory;
  readonly state: TwinStateStore;
  readonly requests: RequestService;
  readonly sessions: SessionRegistry;
  readonly persist: PersistQueue;
  readonly notify: NotificationRegistry;
  readonly tokens: TokenService;
  readonly jobs: JobService;
  /** Value history: recording (joined to state writes), queries, policies, retention. */
  readonly history: HistoryService;
  /** Alone, or one instance of a cluster: who delivers an agent's requests, who runs the sweeps. */
  readonly membership: Membership;
  readonly defaultRequestTtlSeconds: number;
  /** Twin queries: candidates one listing request evaluates at most (HubOptions.queryScanLimit). */
  readonly queryScanLimit: number;
  now(): Date;
  /** The TD served to consumers: the registered one with forms pointing at the hub; with `client`, only the forms its role may use. */
  twinTd(twin: Twin, client?: Client): ThingDescription;
}

export type Handler = (core: HubCore, request: HubRequest, context: HubContext) => Promise<HubSuccess>;
export type HandlerTable = Partial<Record<Operation, Handler>>;

export const ok = (output?: unknown, status = 200): HubSuccess => (output === undefined ? { ok: true, status } : { ok: true, status, output });

export type AffordanceSection = 'properties' | 'actions' | 'events';
const SINGULAR: Record<AffordanceSection, string> = { properties: 'property', actions: 'action', events: 'event' };

/**
 * An affordance of a twin's TD, or a 404 listing the ones it has. `schema` is the stored TD's own
 * object: schema validators are cached by object identity, so callers must not copy it.
 */
export function affordance(twin: Twin, section: AffordanceSection, name: string | undefined): { name: string; schema: Record<string, unknown> } {
  if (name === undefined) throw badRequest(`this operation needs the name of a ${SINGULAR[section]}`);
  const all = (twin.td[section] ?? {}) as Record<string, Record<string, unknown>>;
  const schema = Object.hasOwn(all, name) ? all[name] : undefined;
  if (!schema) {
    const names = Object.keys(all);
    throw notFound(`Thing '${twin.thingId}' has no ${SINGULAR[section]} '${name}'${names.length ? `; it has: ${names.join(', ')}` : ''}`);
  }
  return { name, schema };
}

/** Throws 413 when a value's JSON is larger than the payload limit. */
export function checkPayloadSize(limits: HubLimits, value: unknown, what: string): void {
  if (value === undefined) return;
  const size = Buffer.byteLength(JSON.stringify(value) ?? '');
  if (size > limits.maxPayloadBytes) throw payloadTooLarge(`${what} is ${size} bytes of JSON; the limit is ${limits.maxPayloadBytes}`);
}

/** Throws 400 with the schema errors when `value` does not match `schema`. */
export function checkValue(schema: Record<string, unknown> | undefined, value: unknown, what: string, pointer: string): void {
  const errors = validateAgainstSchema(schema, value, pointer);
  if (errors.length > 0) throw badRequest(`${what} does not match its schema: ${errors.map((e) => `${e.pointer || '/'} ${e.message}`).join('; ')}`, errors);
}
