// TwinhubError: every failure the client reports, typed as an RFC 9457 problem (status, type, title,
// detail) — a refused request's problem as the hub sent it, or one the client makes (timeout, offline).

import type { Problem } from '@twinhub/core';

export class TwinhubError extends Error {
  /** HTTP-style status: the hub's (4xx/5xx), or the client's own (503 not connected, 504 timeout, 502 action failed). */
  readonly status: number;
  /** A URI naming the problem type (RFC 9457 §3.1.1); about:blank when the hub named none. */
  readonly type: string;
  readonly title: string;
  readonly detail: string;
  /** The whole problem (validation errors etc.) as the hub sent it. */
  readonly problem: Problem;
  /** The operation that failed, when known. */
  readonly operation?: string;

  constructor(problem: Problem, operation?: string) {
    super(`${operation ? `${operation}: ` : ''}${problem.status} ${problem.title}: ${problem.detail}`);
    this.name = 'TwinhubError';
    this.status = problem.status;
    this.type = problem.type ?? 'about:blank';
    this.title = problem.title;
    this.detail = problem.detail;
    this.problem = problem;
    if (operation !== undefined) this.operation = operation;
  }

  /** A problem the client itself raises (no answer from the hub). */
  static local(status: number, title: string, detail: string, operation?: string): TwinhubError {
    return new TwinhubError({ status, title, detail, type: `urn:twinhub:client:${title.toLowerCase().replace(/\s+/g, '-')}` }, operation);
  }
}

/** Whether retrying the same request later may succeed (the hub or the link failed, not the request). */
export function isTransient(error: unknown): boolean {
  return error instanceof TwinhubError && (error.status >= 500 || error.status === 429) && error.status !== 501;
}
