// History policies: what is recorded for a property or event (on/off, delta sampling) and how long
// it is kept (age, count). Hub defaults, the agent's TD annotation and the admin's per-Thing
// policies combine field by field; the admin's win (see docs/history.md, "Policies").

import { badRequest } from '../model/errors.js';
import type { Twin } from '../model/types.js';
import type { SeriesKind } from './keys.js';

/**
 * The IRI of twinhub's own TD terms, declared as the `twinhub` prefix in twin TDs' @context
 * (`twinhub:history`, `twinhub:historyForm`, `twinhub:readhistory`). A URN until the project has
 * a stable web address for its vocabulary.
 */
export const TWINHUB_VOCABULARY = 'urn:twinhub:vocab#';

/** The TD term an agent annotates an affordance with: `false` (not recorded), `true`, or an object. */
export const HISTORY_ANNOTATION = 'twinhub:history';

/** One level of policy; every field optional (unset: the next level decides). */
export interface HistoryPolicy {
  /** Whether values are recorded at all. */
  enabled?: boolean;
  /** Delta sampling by value: a number within `delta` of the value that opened the last sample (other values: equal JSON) replaces that sample. */
  delta?: number;
  /** Delta sampling by time, seconds: a value within `interval` of the time the last sample was opened replaces it. */
  interval?: number;
  /** Samples older than this are deleted, seconds. */
  maxAgeSeconds?: number;
  /** At most this many samples per series; the oldest go first. */
  maxSamples?: number;
}

/** An admin's policy document for one Thing: Thing-wide fields, and per property/event overrides. */
export interface ThingHistoryPolicy extends HistoryPolicy {
  properties?: Record<string, HistoryPolicy>;
  events?: Record<string, HistoryPolicy>;
}

/** The policy a series is recorded and pruned with. */
export interface EffectivePolicy {
  enabled: boolean;
  delta?: number;
  interval?: number;
  maxAgeSeconds: number;
  maxSamples: number;
}

/** The hub-wide defaults (HubOptions.history). */
export interface HistoryDefaults {
  /** Off: nothing is recorded anywhere (queries still serve what is stored; retention still prunes). Default on. */
  enabled: boolean;
  /** Default 30 days. */
  maxAgeSeconds: number;
  /** Default 10 000 samples per series. */
  maxSamples: number;
}

export const DEFAULT_HISTORY: HistoryDefaults = { enabled: true, maxAgeSeconds: 30 * 24 * 3600, maxSamples: 10_000 };

/** Upper bounds of policy values: a century, a hundred million samples. */
const MAX_SECONDS = 100 * 365 * 24 * 3600;
const MAX_SAMPLES = 100_000_000;
/** Per-affordance entries of one admin policy document. */
const MAX_AFFORDANCE_POLICIES = 10_000;

const POLICY_FIELDS = new Set(['enabled', 'delta', 'interval', 'maxAgeSeconds', 'maxSamples']);
const AGENT_FIELDS = new Set(['enabled', 'delta', 'interval']);

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Checks one level of policy; `where` names it in the 400. */
function parseLevel(value: unknown, where: string, fields: ReadonlySet<string>): HistoryPolicy {
  if (!isObject(value)) throw badRequest(`${where} must be an object with ${[...fields].join(', ')}`);
  const unknown = Object.keys(value).filter((key) => !fields.has(key));
  if (unknown.length > 0) throw badRequest(`${where} has unknown field(s) ${unknown.join(', ')}; known: ${[...fields].join(', ')}`);
  const policy: HistoryPolicy = {};
  if (value.enabled !== undefined) {
    if (typeof value.enabled !== 'boolean') throw badRequest(`${where}.enabled must be true or false`);
    policy.enabled = value.enabled;
  }
  const number = (key: 'delta' | 'interval' | 'maxAgeSeconds' | 'maxSamples', min: number, max: number, integer: boolean) => {
    const field = value[key];
    if (field === undefined) return;
    if (typeof field !== 'number' || !Number.isFinite(field) || field < min || field > max || (integer && !Number.isInteger(field))) {
      throw badRequest(`${where}.${key} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${JSON.stringify(field)}`);
    }
    policy[key] = field;
  };
  number('delta', 0, Number.MAX_VALUE, false);
  number('interval', 0.001, MAX_SECONDS, false);
  number('maxAgeSeconds', 1, MAX_SECONDS, true);
  number('maxSamples', 1, MAX_SAMPLES, true);
  return policy;
}

/** Checks an admin's policy document (updatehistorypolicy input); 400 naming the wrong field. */
export function parseThingPolicy(input: unknown): ThingHistoryPolicy {
  if (!isObject(input))
    throw badRequest('updatehistorypolicy needs an object: { enabled?, delta?, interval?, maxAgeSeconds?, maxSamples?, properties?, events? }');
  const { properties, events, ...thingWide } = input;
  const policy: ThingHistoryPolicy = parseLevel(thingWide, 'the policy', POLICY_FIELDS);
  let entries = 0;
  for (const [section, value] of [
    ['properties', properties],
    ['events', events],
  ] as const) {
    if (value === undefined) continue;
    if (!isObject(value)) throw badRequest(`the policy's ${section} must be an object { name: policy }`);
    const parsed = new Map<string, HistoryPolicy>();
    for (const [name, level] of Object.entries(value)) {
      if (++entries > MAX_AFFORDANCE_POLICIES) throw badRequest(`a policy may name at most ${MAX_AFFORDANCE_POLICIES} properties and events`);
      parsed.set(name, parseLevel(level, `${section}.${name}`, POLICY_FIELDS));
    }
    // fromEntries defines own properties: a name such as "__proto__" stays plain data.
    policy[section] = Object.fromEntries(parsed);
  }
  return policy;
}

/**
 * The agent's annotation of an affordance (`"twinhub:history": false | true | { enabled?, delta?,
 * interval? }`); an annotation of another shape is ignored (the TD was accepted before this
 * term's rules were checked, so it cannot be refused here) and reported through `onInvalid`.
 */
export function agentPolicy(affordance: Record<string, unknown> | undefined, onInvalid: (detail: string) => void): HistoryPolicy {
  const annotation = affordance?.[HISTORY_ANNOTATION];
  if (annotation === undefined) return {};
  if (typeof annotation === 'boolean') return { enabled: annotation };
  try {
    return parseLevel(annotation, HISTORY_ANNOTATION, AGENT_FIELDS);
  } catch (error) {
    onInvalid((error as Error).message);
    return {};
  }
}

/**
 * Refuses a TD whose `twinhub:history` annotations are not of the documented shape (400 naming
 * each one's pointer), at registration: an annotation that would be ignored must not be accepted.
 */
export function checkHistoryAnnotations(td: Record<string, unknown>): void {
  const errors: { pointer: string; message: string }[] = [];
  for (const section of ['properties', 'events'] as const) {
    const affordances = (td[section] ?? {}) as Record<string, Record<string, unknown> | undefined>;
    for (const [name, affordance] of Object.entries(affordances)) {
      agentPolicy(affordance, (message) => errors.push({ pointer: `/${section}/${escapeToken(name)}/${escapeToken(HISTORY_ANNOTATION)}`, message }));
    }
  }
  if (errors.length > 0) throw badRequest(`invalid ${HISTORY_ANNOTATION} annotation: ${errors.map((e) => `${e.pointer}: ${e.message}`).join('; ')}`, errors);
}

const escapeToken = (token: string) => token.replaceAll('~', '~0').replaceAll('/', '~1');

const SECTION: Record<SeriesKind, 'properties' | 'events'> = { p: 'properties', e: 'events' };

/** Per field, the first level that sets it: admin per affordance, admin per Thing, the agent's annotation, the hub defaults. */
export function effectivePolicy(
  defaults: HistoryDefaults,
  twin: Twin | undefined,
  admin: ThingHistoryPolicy | undefined,
  kind: SeriesKind,
  name: string,
  onInvalid: (detail: string) => void,
): EffectivePolicy {
  const section = SECTION[kind];
  const affordances = twin?.td[section] as Record<string, Record<string, unknown>> | undefined;
  const affordance = affordances !== undefined && Object.hasOwn(affordances, name) ? affordances[name] : undefined;
  const perAffordance = admin?.[section] !== undefined && Object.hasOwn(admin[section], name) ? admin[section][name] : undefined;
  const { properties: _p, events: _e, ...perThing } = admin ?? {};
  const levels: HistoryPolicy[] = [perAffordance ?? {}, perThing, agentPolicy(affordance, onInvalid)];
  const pick = <K extends keyof HistoryPolicy>(key: K): HistoryPolicy[K] => levels.find((level) => level[key] !== undefined)?.[key];
  const delta = pick('delta');
  const interval = pick('interval');
  return {
    // The hub-wide switch is a kill switch: no policy turns recording on when the hub has it off.
    enabled: defaults.enabled && (pick('enabled') ?? true),
    ...(delta !== undefined ? { delta } : {}),
    ...(interval !== undefined ? { interval } : {}),
    maxAgeSeconds: pick('maxAgeSeconds') ?? defaults.maxAgeSeconds,
    maxSamples: pick('maxSamples') ?? defaults.maxSamples,
  };
}
