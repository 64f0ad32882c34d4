// Server-sent event framing (WHATWG HTML § 9.2): one place that turns an event into the bytes on
// the wire, so no caller can emit a frame that splits or merges events by accident.

/** One event on an SSE stream. `event` absent = an unnamed event (EventSource.onmessage). */
export interface SseFrame {
  id?: string | number;
  event?: string;
  data: string;
}

/** Strips line breaks from single-line fields (id, event): a newline there would start a new field. */
function singleLine(value: string): string {
  return value.replace(/[\r\n]/g, ' ');
}

/** The wire text of one event; multi-line data becomes several `data:` lines. */
export function formatFrame(frame: SseFrame): string {
  let text = '';
  if (frame.id !== undefined) text += `id: ${singleLine(String(frame.id))}\n`;
  if (frame.event !== undefined) text += `event: ${singleLine(frame.event)}\n`;
  for (const line of frame.data.split(/\r\n|\r|\n/)) text += `data: ${line}\n`;
  return `${text}\n`;
}

/** A comment line (ignored by clients): heartbeats that keep proxies from timing the stream out. */
export function formatComment(text: string): string {
  return `: ${singleLine(text)}\n\n`;
}
