// The twin TD: the registered TD with every form replaced by the hub's own, so consumers talk to
// the hub (on every binding) and never to the device.

import { isDeepStrictEqual } from 'node:util';
import { badRequest } from '../model/errors.js';
import type { AffordanceKind, Form, TwinTdContributor } from '../model/hub-api.js';
import type { ThingDescription, Twin } from '../model/types.js';

const KINDS: readonly [key: 'properties' | 'actions' | 'events', kind: AffordanceKind][] = [
  ['properties', 'property'],
  ['actions', 'action'],
  ['events', 'event'],
];

const NOSEC: Record<string, Record<string, unknown>> = { nosec_sc: { scheme: 'nosec' } };

/** [tdd-context-injection] An Enriched TD (one with `registration`) names the Discovery context. */
export const DISCOVERY_CONTEXT = 'https://www.w3.org/2022/wot/discovery';

/**
 * Builds the TD the hub serves for `twin`. Kept as registered: @context, @type, titles,
 * descriptions, affordances and their schemas, links (relative hrefs resolved against the old
 * `base`), version, etc. Replaced: `id` (the twin's), `base` (dropped), all `forms` (the
 * contributors', in contributor order; none where nobody contributes), `securityDefinitions` (the
 * contributors', first definition of a name wins, or `nosec_sc`), `security` (the first scheme of
 * the first contributor that defines any), `created`/`modified` (the twin's), `registration` (the
 * directory's: created, modified, and expires/ttl for an expirable registration, WoT Discovery
 * §6.2). Added to `@context`: the Discovery context and the prefixes contributors' forms use
 * (e.g. `mqv`). Pure: `twin` is not modified and shares nothing with the result.
 */
export function buildTwinTd(twin: Twin, contributors: readonly TwinTdContributor[]): ThingDescription {
  const td = structuredClone(twin.td) as Record<string, unknown>;
  const thingId = twin.thingId;
  const oldBase = typeof td.base === 'string' ? td.base : undefined;
  delete td.base;
  td.id = thingId;

  // A Map, then Object.fromEntries (own data properties): no scheme name can reach a prototype.
  const securityDefinitions = new Map<string, Record<string, unknown>>();
  let security: string | undefined;
  for (const contributor of contributors) {
    for (const [name, scheme] of Object.entries(contributor.securityDefinitions?.() ?? {})) {
      security ??= name;
      if (!securityDefinitions.has(name)) securityDefinitions.set(name, structuredClone(scheme));
    }
  }
  td.securityDefinitions = security === undefined ? structuredClone(NOSEC) : Object.fromEntries(securityDefinitions);
  td.security = [security ?? 'nosec_sc'];

  setForms(
    td,
    contributors.flatMap((c) => c.thingForms?.(thingId) ?? []),
  );
  for (const [key, kind] of KINDS) {
    const affordances = td[key];
    if (affordances === null || typeof affordances !== 'object') continue;
    for (const [name, affordance] of Object.entries(affordances as Record<string, unknown>)) {
      if (affordance === null || typeof affordance !== 'object') continue;
      const record = affordance as Record<string, unknown>;
      delete record.forms;
      setForms(
        record,
        contributors.flatMap((c) => c.affordanceForms?.(kind, thingId, name, record) ?? []),
      );
    }
  }

  if (oldBase !== undefined && Array.isArray(td.links)) {
    for (const link of td.links as unknown[]) {
      const record = link as Record<string, unknown> | null;
      if (record !== null && typeof record === 'object' && typeof record.href === 'string') record.href = resolveAgainst(record.href, oldBase);
    }
  }
  td.created = twin.created;
  td.modified = twin.modified;
  td.registration = registrationOf(twin);
  td['@context'] = enrichedContext(
    td['@context'],
    contributors.map((c) => c.context?.() ?? {}),
  );
  return td as ThingDescription;
}

/** [tdd-registrationinfo-vocab-*] What the directory knows of the registration (`retrieved` is left out: see docs/decisions.md). */
function registrationOf(twin: Twin): Record<string, unknown> {
  return {
    created: twin.created,
    modified: twin.modified,
    ...(twin.expires !== undefined ? { expires: twin.expires } : {}),
    ...(twin.ttl !== undefined ? { ttl: twin.ttl } : {}),
  };
}

/** The registered @context, then the Discovery context, then one object with the contributors' prefixes (later definitions win in JSON-LD). */
function enrichedContext(registered: unknown, prefixes: Record<string, string>[]): unknown[] {
  const context = Array.isArray(registered) ? [...registered] : registered === undefined ? [] : [registered];
  if (!context.includes(DISCOVERY_CONTEXT)) context.push(DISCOVERY_CONTEXT);
  const terms = new Map<string, string>();
  for (const entry of prefixes) for (const [prefix, iri] of Object.entries(entry)) if (!terms.has(prefix)) terms.set(prefix, iri);
  if (terms.size > 0) context.push(Object.fromEntries(terms));
  return context;
}

/**
 * The twin TD as one client sees it: each form keeps only the operations `mayUse` allows (a
 * viewer's TD has no write, invoke or cancel operation), and a form left without any goes. An
 * affordance that had forms and is left without any goes too (TD 1.1 requires forms on every
 * affordance): a viewer's TD has no write-only property. Pure: `td` is not changed; the result
 * shares the affordances and forms it leaves as they are with `td` (twin TDs are cached and shared
 * between requests, so neither is ever changed in place). Copying only what changes made building
 * a role's view of a twin TD several times cheaper than a deep copy (bench/RESULTS.md, fix 10):
 * it is built at the first read of each twin per role.
 */
export function restrictForms(td: ThingDescription, mayUse: (op: string) => boolean): ThingDescription {
  /** The target with its forms restricted (itself when nothing changes), or undefined when it had forms and none is left. */
  const restrict = (target: Record<string, unknown>): Record<string, unknown> | undefined => {
    const forms = (Array.isArray(target.forms) ? target.forms : []) as Form[];
    let changed = target.forms !== undefined && !Array.isArray(target.forms); // forms that are not a list go
    const kept: Form[] = [];
    for (const form of forms) {
      const ops = (Array.isArray(form.op) ? form.op : typeof form.op === 'string' ? [form.op] : []) as string[];
      const allowed = ops.filter(mayUse);
      if (ops.length > 0 && allowed.length === 0) changed = true;
      else if (ops.length === allowed.length) kept.push(form);
      else {
        changed = true;
        kept.push({ ...form, op: allowed });
      }
    }
    if (forms.length > 0 && kept.length === 0) return undefined;
    if (!changed) return target;
    const copy = { ...target };
    if (kept.length > 0) copy.forms = kept;
    else delete copy.forms;
    return copy;
  };
  const view: Record<string, unknown> = { ...td };
  if (td.forms !== undefined) {
    const forms = restrict({ forms: td.forms })?.forms;
    if (forms === undefined) delete view.forms;
    else view.forms = forms;
  }
  for (const [key] of KINDS) {
    const affordances = td[key];
    if (affordances === null || typeof affordances !== 'object') continue;
    const restricted: Record<string, unknown> = {};
    for (const [name, affordance] of Object.entries(affordances as Record<string, Record<string, unknown>>)) {
      const kept = restrict(affordance);
      if (kept !== undefined) restricted[name] = kept;
    }
    view[key] = restricted;
  }
  return view as ThingDescription;
}

function setForms(target: Record<string, unknown>, forms: Form[]): void {
  if (forms.length > 0) target.forms = structuredClone(forms);
  else delete target.forms;
}

function resolveAgainst(href: string, base: string): string {
  try {
    return new URL(href, base).href;
  } catch {
    return href;
  }
}

/**
 * The same twin TD with `scheme` as the Thing-level default: forms that named only `scheme` now
 * inherit it, forms that inherited the old default name it explicitly, so every form keeps its
 * meaning. For clients that honour only the Thing-level scheme (node-wot 0.8.16 hands form-level
 * schemes the wrong credentials). Pure: returns a copy. 400 when the TD does not define `scheme`.
 */
export function withDefaultSecurity(td: ThingDescription, scheme: string): ThingDescription {
  const definitions = (td.securityDefinitions ?? {}) as Record<string, unknown>;
  if (!Object.hasOwn(definitions, scheme)) {
    throw badRequest(`security scheme '${scheme}' is not defined by this Thing; it defines: ${Object.keys(definitions).join(', ')}`);
  }
  const copy = structuredClone(td) as Record<string, unknown>;
  const previous = copy.security;
  copy.security = [scheme];
  const affordanceForms = KINDS.flatMap(([key]) => Object.values((copy[key] ?? {}) as Record<string, { forms?: Form[] }>).map((a) => a.forms ?? []));
  for (const form of [(copy.forms ?? []) as Form[], ...affordanceForms].flat()) {
    if (isDeepStrictEqual(form.security, [scheme]) || form.security === scheme) delete form.security;
    else if (form.security === undefined) form.security = previous;
  }
  return copy as ThingDescription;
}
