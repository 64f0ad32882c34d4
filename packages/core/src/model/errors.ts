// Errors as values: a HubError carries an RFC 9457 problem. Core code throws them; Hub.handle()
// turns them into HubFailure results, so no binding ever sees a raw exception or a stack trace.

import type { HubFailure } from './operations.js';
import type { Problem, ProblemDetailItem } from './types.js';

export class HubError extends Error {
  readonly problem: Problem;

  constructor(status: number, title: string, detail: string, errors?: ProblemDetailItem[]) {
    super(`${title}: ${detail}`);
    this.name = 'HubError';
    this.problem = { status, title, detail, ...(errors && errors.length > 0 ? { errors } : {}) };
  }

  get status(): number {
    return this.problem.status;
  }

  toResult(): HubFailure {
    return { ok: false, status: this.problem.status, problem: this.problem };
  }
}

export const badRequest = (detail: string, errors?: ProblemDetailItem[]) => new HubError(400, 'Bad Request', detail, errors);
export const unauthorized = (detail: string) => new HubError(401, 'Unauthorized', detail);
export const forbidden = (detail: string) => new HubError(403, 'Forbidden', detail);
export const notFound = (detail: string) => new HubError(404, 'Not Found', detail);
export const conflict = (detail: string) => new HubError(409, 'Conflict', detail);
export const preconditionFailed = (detail: string) => new HubError(412, 'Precondition Failed', detail);
export const payloadTooLarge = (detail: string) => new HubError(413, 'Payload Too Large', detail);
export const tooManyRequests = (detail: string) => new HubError(429, 'Too Many Requests', detail);
export const serviceUnavailable = (detail: string) => new HubError(503, 'Service Unavailable', detail);

/** The problem for an unexpected exception: no internals leak to the client. */
export function internalProblem(): Problem {
  return { status: 500, title: 'Internal Server Error', detail: 'The hub failed to handle this request; the error was logged.' };
}

export function isHubError(error: unknown): error is HubError {
  return error instanceof HubError;
}
