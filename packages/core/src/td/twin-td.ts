// The twin TD: the registered TD with every form replaced by the hub's own, so consumers talk to
// the hub (on every binding) and never to the device.

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

  const securityDefinitions: Record<string, Record<string, unknown>> = {};
  let security: string | undefined;
  for (const contributor of contributors) {
    for (const [name, scheme] of Object.entries(contributor.securityDefinitions?.() ?? {})) {
      security ??= name;
      if (!Object.hasOwn(securityDefinitions, name)) securityDefinitions[name] = structuredClone(scheme);
    }
  }
  td.securityDefinitions = security === undefined ? structuredClone(NOSEC) : securityDefinitions;
  td.security = [security ?? 'nosec_sc'];

  setForms(td, contributors.flatMap((c) => c.thingForms?.(thingId) ?? []));
  for (const [key, kind] of KINDS) {
    const affordances = td[key];
    if (affordances === null || typeof affordances !== 'object') continue;
    for (const [name, affordance] of Object.entries(affordances as Record<string, unknown>)) {
      if (affordance === null || typeof affordance !== 'object') continue;
      const record = affordance as Record<string, unknown>;
      delete record.forms;
      setForms(record, contributors.flatMap((c) => c.affordanceForms?.(kind, thingId, name, record) ?? []));
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
