// HOOK (history charts, issue #12's history part): not built yet. The hub on main has no history
// API when this was written (it is on the `history` branch), so this section renders nothing but
// a hidden marker; once history lands, chart each numeric property here from its documented query,
// with a time-range picker. No data is made up meanwhile.

import type { DataSchema } from '../components/schema-field.js';

export function HistoryHook({ thingId, properties }: { thingId: string; properties: Record<string, DataSchema> }) {
  const numeric = Object.entries(properties)
    .filter(([, property]) => property.type === 'number' || property.type === 'integer')
    .map(([name]) => name);
  return <section hidden data-hook="history" data-thing-id={thingId} data-numeric-properties={numeric.join(' ')} />;
}
