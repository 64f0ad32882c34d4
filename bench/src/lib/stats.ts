// Latency summaries: percentiles over raw samples (milliseconds), percentiles estimated from the
// buckets of a Prometheus histogram (the hub's own metrics), and a few formatting helpers.

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentiles of the samples (ms); zeros when there are none. */
export function summarize(samples: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  const n = sorted.length;
  if (n === 0) return { count: 0, p50: 0, p95: 0, p99: 0, max: 0, mean: 0 };
  const at = (q: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))];
  let sum = 0;
  for (const v of sorted) sum += v;
  return { count: n, p50: round(at(0.5)), p95: round(at(0.95)), p99: round(at(0.99)), max: round(sorted[n - 1]), mean: round(sum / n) };
}

/** A Prometheus histogram's cumulative buckets: `count` observations were <= `le` (the last `le` is Infinity). */
export type HistogramBuckets = Array<{ le: number; count: number }>;

/**
 * The cumulative buckets of histogram `name` in a Prometheus text exposition, summed over the series
 * whose labels include every pair of `labels`; [] when the histogram has no such series yet (a
 * labelled series appears at its first observation).
 */
export function parseHistogram(text: string, name: string, labels: Record<string, string> = {}): HistogramBuckets {
  const counts = new Map<number, number>();
  const prefix = `${name}_bucket{`;
  for (const line of text.split('\n')) {
    if (!line.startsWith(prefix)) continue;
    const close = line.lastIndexOf('}');
    const pairs = new Map([...line.slice(prefix.length, close).matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]] as const));
    if (Object.entries(labels).some(([key, value]) => pairs.get(key) !== value)) continue;
    const le = pairs.get('le') === '+Inf' ? Number.POSITIVE_INFINITY : Number(pairs.get('le'));
    counts.set(le, (counts.get(le) ?? 0) + Number(line.slice(close + 1).trim()));
  }
  return [...counts].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
}

/**
 * The q-quantile of the observations made between two reads of the same cumulative histogram, as
 * Prometheus' histogram_quantile estimates it: linear within the bucket holding the rank, from the
 * bucket below's bound (0 for the first); a rank in the +Inf bucket gives the largest finite bound.
 * Undefined when nothing was observed in between. A bucket missing from `before` counts as 0.
 */
export function histogramQuantile(before: HistogramBuckets, after: HistogramBuckets, q: number): number | undefined {
  const earlier = new Map(before.map((b) => [b.le, b.count]));
  const delta = after.map((b) => ({ le: b.le, count: b.count - (earlier.get(b.le) ?? 0) }));
  const total = delta.at(-1)?.count ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const bucket of delta) {
    if (bucket.count >= rank && bucket.count > below) {
      if (bucket.le === Number.POSITIVE_INFINITY) return lower;
      return lower + ((bucket.le - lower) * (rank - below)) / (bucket.count - below);
    }
    lower = bucket.le;
    below = bucket.count;
  }
  return lower;
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** "1.2 / 3.4 / 5.6" (p50 / p95 / p99, ms). */
export function pcts(s: LatencySummary): string {
  return s.count === 0 ? 'n/a' : `${fmt(s.p50)} / ${fmt(s.p95)} / ${fmt(s.p99)}`;
}

export function fmt(value: number): string {
  if (value >= 100) return Math.round(value).toLocaleString('en-US');
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

export function int(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
