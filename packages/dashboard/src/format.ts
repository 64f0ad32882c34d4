// How values and times read on screen: values as compact JSON, times as local time with the age.

/** A value as one line of JSON (strings quoted, so "" and a missing value differ). */
export function showValue(value: unknown): string {
  if (value === undefined) return '—';
  const text = JSON.stringify(value);
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}

export function showTime(iso: string | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
}

/** "12 s ago", "3 min ago", for presence and last updates. */
export function showAge(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '';
  const seconds = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86_400)} d ago`;
}

/** A TD's @type as text (a string or a list). */
export function showTypes(types: unknown): string {
  if (typeof types === 'string') return types;
  if (Array.isArray(types)) return types.filter((type) => typeof type === 'string').join(', ');
  return '';
}
