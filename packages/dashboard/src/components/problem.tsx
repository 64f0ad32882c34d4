// Turns a failed call into what a person reads: the hub's problem (title, detail and, for a
// validation error, each fault with its place), shown inline next to the control that caused it.

import { TwinhubError } from '@twinhub/client/browser';
import { HubCallError } from '../api/extra.js';

export function problemLines(error: unknown): string[] {
  if (error instanceof TwinhubError) {
    const faults = (error.problem.errors ?? []).map(({ pointer, message }) => (pointer ? `${pointer}: ${message}` : message));
    return [`${error.title}: ${error.detail}`, ...faults];
  }
  if (error instanceof HubCallError) return [error.message];
  return [error instanceof Error ? error.message : String(error)];
}

export function ProblemText({ id, error }: { id?: string; error: unknown }) {
  if (error === undefined) return null;
  const [first, ...faults] = problemLines(error);
  return (
    <div id={id} class="problem" role="alert">
      <span>{first}</span>
      {faults.length > 0 && (
        <ul>
          {faults.map((fault) => (
            <li key={fault}>{fault}</li>
          ))}
        </ul>
      )}
    </div>
  );
}
