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

/**
 * Builds the TD the hub serves for `twin`. Kept as registered: @context, @type, titles,
 * descriptions, affordances and their schemas, links (relative hrefs resolved against the old
 * `base`), version, etc. Replaced: `id` (the twin's), `base` (dropped), all `forms` (the
 * contributors', in contributor order; none where nobody contributes), `securityDefinitions` (the
 * contributors', first definition of a name wins, or `nosec_sc`), `security` (the first scheme of
 * the first contributor that defines any), `created`/`modified` (the twin's). Pure: `twin` is not
 * modified and shares nothing with the result.
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
  return td as ThingDescription;
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
