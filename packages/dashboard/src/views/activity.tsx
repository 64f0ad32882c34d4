// Directory activity since sign-in: TDs created, updated and deleted, and agents going online and
// offline, newest first, each linked to its twin.

import { type ActivityEntry, KIND_LABELS } from '../activity.js';
import { showTime } from '../format.js';
import { onLinkClick } from '../router.js';

export function ActivityView({ entries }: { entries: ActivityEntry[] }) {
  return (
    <section aria-labelledby="activity-heading">
      <h1 id="activity-heading">Directory activity</h1>
      <p class="hint" aria-live="polite">
        {entries.length === 0
          ? 'Nothing has happened since you signed in. Changes appear here as they happen.'
          : `${entries.length} changes since you signed in, newest first.`}
      </p>
      <ol class="activity" aria-label="Directory changes">
        {entries.map((entry) => (
          <li key={entry.seq} data-kind={entry.kind}>
            <time dateTime={entry.at}>{showTime(entry.at)}</time> <span class={`kind kind-${entry.kind}`}>{KIND_LABELS[entry.kind]}</span>{' '}
            {entry.thingId !== undefined ? (
              entry.kind === 'thing_deleted' ? (
                <span>{entry.thingId}</span>
              ) : (
                <a href={`/ui/things/${encodeURIComponent(entry.thingId)}`} onClick={onLinkClick({ name: 'twin', thingId: entry.thingId })}>
                  {entry.title ?? entry.thingId}
                </a>
              )
            ) : (
              <span>{entry.agentId}</span>
            )}
          </li>
        ))}
      </ol>
    </section>
  );
}
