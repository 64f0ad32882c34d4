// History charts (docs/history.md): one per numeric property, the hub's per-bucket min, max and
// average over a picked time range (readpropertyhistory with every/agg), redrawn when the property
// reports. A plain SVG: a min–max band, the average line and its points, labelled for screen readers.

import { useEffect, useState } from 'preact/hooks';
import { ProblemText } from '../components/problem.js';
import type { DataSchema } from '../components/schema-field.js';
import { showTime } from '../format.js';
import { useSession } from '../session.js';

/** Each range with a bucket width that gives at most ~60 buckets (one page). */
const RANGES = [
  { label: 'Last hour', ms: 3_600_000, every: '1m' },
  { label: 'Last 24 hours', ms: 86_400_000, every: '30m' },
  { label: 'Last 7 days', ms: 7 * 86_400_000, every: '3h' },
  { label: 'Last 30 days', ms: 30 * 86_400_000, every: '12h' },
] as const;

interface Bucket {
  start: string;
  min: number;
  max: number;
  avg: number;
}

export interface HistoryChartsProps {
  thingId: string;
  properties: Record<string, DataSchema>;
  /** When each property last reported: a change redraws its chart. */
  updated: Record<string, string | undefined>;
}

export function HistoryCharts({ thingId, properties, updated }: HistoryChartsProps) {
  const [range, setRange] = useState(0);
  const numeric = Object.entries(properties).filter(([, p]) => (p.type === 'number' || p.type === 'integer') && !p.writeOnly);
  if (numeric.length === 0) return null;
  return (
    <section aria-labelledby="history-heading">
      <h2 id="history-heading">History</h2>
      <div class="field field-inline">
        <label for="history-range">Time range</label>
        <select id="history-range" value={String(range)} onChange={(e) => setRange(Number(e.currentTarget.value))}>
          {RANGES.map((option, index) => (
            <option key={option.label} value={String(index)}>
              {option.label}
            </option>
          ))}
        </select>
      </div>
      <div class="cards">
        {numeric.map(([name, property]) => (
          <HistoryChart key={name} thingId={thingId} name={name} unit={property.unit} range={RANGES[range]} updated={updated[name]} />
        ))}
      </div>
    </section>
  );
}

function HistoryChart({
  thingId,
  name,
  unit,
  range,
  updated,
}: {
  thingId: string;
  name: string;
  unit?: string;
  range: (typeof RANGES)[number];
  updated?: string;
}) {
  const { client } = useSession();
  const [buckets, setBuckets] = useState<Bucket[]>();
  const [problem, setProblem] = useState<unknown>();

  useEffect(() => {
    let current = true;
    const to = new Date();
    const from = new Date(to.getTime() - range.ms);
    client
      .history(thingId, name, { from: from.toISOString(), to: to.toISOString(), every: range.every, agg: ['min', 'max', 'avg'], order: 'oldest', limit: 1000 })
      .then((page) => {
        if (!current) return;
        const rows = (page.buckets ?? []).filter(
          (bucket): bucket is Record<string, unknown> & Bucket =>
            typeof bucket.avg === 'number' && typeof bucket.min === 'number' && typeof bucket.max === 'number',
        );
        setBuckets(rows);
        setProblem(undefined);
      })
      .catch((error: unknown) => current && setProblem(error));
    return () => {
      current = false;
    };
  }, [client, thingId, name, range, updated]);

  const label = buckets && buckets.length > 0 ? summary(name, buckets, unit) : `${name}: no values in this range`;
  return (
    <figure class="card chart" data-chart={name}>
      <figcaption>
        <strong>{name}</strong>
        {unit ? ` (${unit})` : ''} <span class="sub">min–max band and average per {range.every}</span>
      </figcaption>
      <ProblemText error={problem} />
      {buckets === undefined && !problem && <p aria-live="polite">Loading…</p>}
      {buckets !== undefined && <Plot buckets={buckets} label={label} />}
    </figure>
  );
}

function summary(name: string, buckets: Bucket[], unit?: string): string {
  const min = Math.min(...buckets.map((b) => b.min));
  const max = Math.max(...buckets.map((b) => b.max));
  const last = buckets[buckets.length - 1];
  return `${name}: ${buckets.length} buckets from ${showTime(buckets[0].start)}, min ${min}, max ${max}, latest average ${round(last.avg)}${unit ? ` ${unit}` : ''}`;
}

const round = (value: number) => Math.round(value * 1000) / 1000;

const WIDTH = 320;
const HEIGHT = 120;
const PAD = 6;

function Plot({ buckets, label }: { buckets: Bucket[]; label: string }) {
  if (buckets.length === 0) return <p class="hint">No values recorded in this range.</p>;
  const low = Math.min(...buckets.map((b) => b.min));
  const high = Math.max(...buckets.map((b) => b.max));
  const span = high - low || 1;
  const x = (index: number) => (buckets.length === 1 ? WIDTH / 2 : PAD + (index * (WIDTH - 2 * PAD)) / (buckets.length - 1));
  const y = (value: number) => HEIGHT - PAD - ((value - low) * (HEIGHT - 2 * PAD)) / span;
  const band = [...buckets.map((b, i) => `${x(i)},${y(b.max)}`), ...buckets.map((b, i) => `${x(i)},${y(b.min)}`).reverse()].join(' ');
  const line = buckets.map((b, i) => `${x(i)},${y(b.avg)}`).join(' ');
  return (
    <>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={label} class="plot">
        <title>{label}</title>
        <polygon class="band" points={band} />
        <polyline class="avg" points={line} />
        {buckets.map((b, i) => (
          <circle key={b.start} class="point" cx={x(i)} cy={y(b.avg)} r={2.5} />
        ))}
      </svg>
      <p class="axis sub">
        <span>
          {round(low)} – {round(high)}
        </span>{' '}
        <span>{showTime(buckets[0].start)} → now</span>
      </p>
    </>
  );
}
