// HTTP-level plumbing shared by every route: problem responses, JSON bodies read under a size
// limit, and the few headers (If-Match, Prefer) the routes translate into request fields.

import { maxHeaderSize, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { HubError, badRequest, payloadTooLarge, type HubResult, type Problem, type TwinQuery } from '@twinhub/core';

export type Headers = Record<string, string | number | string[]>;

export const JSON_TYPE = 'application/json';
export const PROBLEM_TYPE = 'application/problem+json';

/** An HTTP-only failure (405, 415...) that carries response headers along with its problem. */
export class HttpError extends HubError {
  constructor(
    status: number,
    title: string,
    detail: string,
    readonly headers: Headers = {},
  ) {
    super(status, title, detail);
  }
}

export const unsupportedMediaType = (detail: string, headers: Headers = {}) => new HttpError(415, 'Unsupported Media Type', detail, headers);

export function sendProblem(res: ServerResponse, problem: Problem, headers: Headers = {}): void {
  if (res.headersSent) {
    // Too late for a status (an SSE stream already started): just end it.
    if (!res.writableEnded) res.end();
    return;
  }
  const body = JSON.stringify(withValidationErrors(problem));
  res.writeHead(problem.status, { ...headers, 'Content-Type': PROBLEM_TYPE, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * [tdd-validation-response] A validation error carries `validationErrors: [{ field, description }]`
 * (WoT Discovery) beside the RFC 9457 `errors` (`pointer`, `message`) every binding sends.
 */
function withValidationErrors(problem: Problem): Problem & { validationErrors?: { field: string; description: string }[] } {
  if (!problem.errors || problem.errors.length === 0) return problem;
  return { ...problem, validationErrors: problem.errors.map(({ pointer, message }) => ({ field: pointer === '' ? '(root)' : pointer, description: message })) };
}

/** Sends `body` as JSON; undefined sends no body (use with 204). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Headers = {}, contentType = JSON_TYPE): void {
  if (body === undefined || status === 204) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export interface ResultResponse {
  /** Status for success instead of the core's (e.g. 202 for queued writes). */
  status?: number;
  headers?: Headers;
  contentType?: string;
  /** Body for success; default the result output. */
  body?: unknown;
  /** The body already serialized as JSON (overrides `body`). */
  json?: string | Buffer;
}

/** Maps a HubResult 1:1: failures become problem+json with their status, successes JSON. */
export function sendResult(res: ServerResponse, result: HubResult, options: ResultResponse = {}): void {
  if (!result.ok) {
    sendProblem(res, result.problem);
    return;
  }
  if (options.json !== undefined) {
    const status = options.status ?? result.status;
    res.writeHead(status, { ...options.headers, 'Content-Type': options.contentType ?? JSON_TYPE, 'Content-Length': Buffer.byteLength(options.json) });
    res.end(options.json);
    return;
  }
  const body = 'body' in options ? options.body : result.output;
  let status = options.status ?? result.status;
  if (status === 200 && body === undefined) status = 204;
  sendJson(res, status, body, options.headers, options.contentType);
}

function mediaType(req: IncomingMessage): string | undefined {
  const header = req.headers['content-type'];
  if (header === undefined) return undefined;
  return header.split(';')[0].trim().toLowerCase();
}

const isJsonType = (type: string) => type === JSON_TYPE || type.endsWith('+json');

/**
 * Reads the body, refusing more than `maxBytes` without buffering the rest: a declared
 * Content-Length over the limit fails before reading anything.
 */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw payloadTooLarge(`request body is ${declared} bytes; the limit is ${maxBytes}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw payloadTooLarge(`request body exceeds the limit of ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export interface JsonBodyOptions {
  maxBytes: number;
  /** Media types accepted; default any JSON type (application/json or +json). */
  types?: readonly string[];
}

/**
 * The request body as JSON, or undefined when it is empty. A missing Content-Type is read as
 * JSON (many clients omit it); a non-JSON one is refused with 415.
 */
export async function readJsonBody(req: IncomingMessage, options: JsonBodyOptions): Promise<unknown> {
  const type = mediaType(req);
  if (type !== undefined) {
    const accepted = options.types ? options.types.includes(type) : isJsonType(type);
    if (!accepted) {
      const expected = options.types ? options.types.join(', ') : 'application/json';
      throw unsupportedMediaType(
        `Content-Type ${type} is not supported here; send ${expected}`,
        options.types ? { 'Accept-Patch': options.types.join(', ') } : {},
      );
    }
  }
  const body = await readBody(req, options.maxBytes);
  const text = body.toString('utf8');
  if (text.trim().length === 0) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw badRequest(`request body is not valid JSON: ${(error as Error).message}`);
  }
}

/** `If-Match: "3"` (or 3, W/"3") → 3; `*` or absent → undefined. */
export function parseIfMatch(req: IncomingMessage): number | undefined {
  const header = req.headers['if-match'];
  if (header === undefined || header.trim() === '*') return undefined;
  const match = /^\s*(?:W\/)?"?(\d+)"?\s*$/.exec(header);
  if (!match) throw badRequest(`If-Match must be a version number (e.g. "3"), got ${JSON.stringify(header)}`);
  return Number(match[1]);
}

/** A non-negative integer query parameter, or undefined when absent. */
export function intParam(url: URL, name: string): number | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return undefined;
  if (!/^\d+$/.test(raw)) throw badRequest(`query parameter "${name}" must be a non-negative integer, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

/** `?offset=&limit=` of a listing paged by offset (agents, jobs), as the query the core takes. */
export function pageParams(url: URL): TwinQuery {
  const query: TwinQuery = {};
  const offset = intParam(url, 'offset');
  const limit = intParam(url, 'limit');
  if (offset !== undefined) query.offset = offset;
  if (limit !== undefined) query.limit = limit;
  return query;
}

/** A listing's answer, with `X-Total-Count` when the core counted the matches. */
export function sendListing(res: ServerResponse, result: HubResult): void {
  sendResult(res, result, result.ok && result.total !== undefined ? { headers: { 'X-Total-Count': String(result.total) } } : {});
}

/** RFC 7240 `Prefer: wait=N` → N seconds (undefined when no wait preference). */
export function preferredWait(req: IncomingMessage): number | undefined {
  const raw = req.headers.prefer;
  if (raw === undefined) return undefined;
  const header = Array.isArray(raw) ? raw.join(',') : raw;
  for (const preference of header.split(',')) {
    const [token] = preference.split(';');
    const [name, value] = token.split('=').map((part) => part.trim());
    if (name.toLowerCase() !== 'wait' || value === undefined) continue;
    const seconds = Number(value.replace(/^"|"$/g, ''));
    if (Number.isInteger(seconds) && seconds >= 0) return seconds;
  }
  return undefined;
}

/** How long a refused connection may still send before it is cut. */
const CLOSE_LINGER_MS = 1000;
const answeredClientErrors = new WeakSet<Duplex>();

/**
 * Answers a request node:http could not parse ('clientError') with a problem, then closes:
 * 431 for headers over node:http's limit (RFC 6585 §5), 408 for headers not complete within
 * headersTimeout (RFC 9110 §15.5.9), 400 otherwise.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex, logger: Logger): void {
  // The parser reports again for every further chunk of a request already answered: let it be.
  if (answeredClientErrors.has(socket)) return;
  logger.debug({ err: error.message, code: error.code }, 'HTTP client error');
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  answeredClientErrors.add(socket);
  const problem: Problem =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? { status: 431, title: 'Request Header Fields Too Large', detail: `the request line and headers exceed ${maxHeaderSize} bytes, the limit` }
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? { status: 408, title: 'Request Timeout', detail: 'the request headers did not arrive in time' }
        : { status: 400, title: 'Bad Request', detail: 'the request is not valid HTTP/1.1' };
  const body = JSON.stringify(problem);
  socket.end(
    `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status]}\r\nConnection: close\r\nContent-Type: ${PROBLEM_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  // Closing while the client still sends would reset the connection and could discard the answer
  // before the client reads it (RFC 9112 §9.6): half-close, keep reading, cut after a grace period.
  const linger = setTimeout(() => socket.destroy(), CLOSE_LINGER_MS);
  linger.unref();
  socket.once('close', () => clearTimeout(linger));
}
