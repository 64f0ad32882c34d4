// Key layout of the history bucket: one record per sample, keys ordered by time within a series,
// so a range scan by prefix + gte/lt serves from/to and a reverse scan serves newest-first.

/** The bucket of history samples. Only the history domain names it. */
export const HISTORY_BUCKET = 'history';

/**
 * A series is one property's or one event's history. Its id is the state record's key,
 * `<thingId>\u0001p\u0001<name>` (`e` for events): U+0001 occurs in neither Thing IDs nor
 * affordance names, so prefixes are exact. A sample's key is
 * `<series>\u0001<epoch ms, 15 digits>\u0001<seq, 6 digits>`: zero-padded so string order is time
 * order (15 digits reach the year 33658), seq orders samples of the same millisecond.
 */
export const SEP = '\u0001';
export type SeriesKind = 'p' | 'e';
const MS_DIGITS = 15;
const SEQ_DIGITS = 6;
export const MAX_SEQ = 10 ** SEQ_DIGITS - 1;

export const seriesId = (thingId: string, kind: SeriesKind, name: string): string => `${thingId}${SEP}${kind}${SEP}${name}`;

/** Every key of a series starts with this (the separator keeps `temp` apart from `temp2`). */
export const seriesPrefix = (series: string): string => `${series}${SEP}`;

/** The lower bound of the samples at or after `ms` in a series (also a valid `lt` bound). */
export const timeBound = (series: string, ms: number): string => `${seriesPrefix(series)}${pad(Math.max(0, Math.floor(ms)), MS_DIGITS)}`;

export const sampleKey = (series: string, ms: number, seq: number): string => `${timeBound(series, ms)}${SEP}${pad(seq, SEQ_DIGITS)}`;

/** The Thing, kind, name, time and seq of a sample key; undefined for a key of another shape. */
export function parseSampleKey(key: string): { series: string; thingId: string; kind: SeriesKind; name: string; ms: number; seq: number } | undefined {
  const parts = key.split(SEP);
  if (parts.length !== 5) return undefined;
  const [thingId, kind, name, ms, seq] = parts;
  if ((kind !== 'p' && kind !== 'e') || !/^\d+$/.test(ms) || !/^\d+$/.test(seq)) return undefined;
  return { series: seriesId(thingId, kind, name), thingId, kind, name, ms: Number(ms), seq: Number(seq) };
}

/** The series a history key belongs to (its first three parts), or undefined. */
export function seriesOfKey(key: string): string | undefined {
  const first = key.indexOf(SEP);
  const second = first < 0 ? -1 : key.indexOf(SEP, first + 1);
  const third = second < 0 ? -1 : key.indexOf(SEP, second + 1);
  return third < 0 ? undefined : key.slice(0, third);
}

/** The smallest key after every key of the series (the next series starts at or after it). */
export const afterSeries = (series: string): string => `${series}\u0002`;

function pad(n: number, digits: number): string {
  return String(n).padStart(digits, '0');
}
