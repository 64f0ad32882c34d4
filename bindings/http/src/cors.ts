// CORS for the REST and SSE routes (Fetch standard, "CORS protocol"): requests from an origin on
// the configured list get the headers that let a page on that origin read the answer, and their
// preflights are answered here; any other origin gets no CORS headers, so the browser blocks it.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { forbidden } from '@twinhub/core';
import { sendProblem } from './http-io.js';

// Fetch, "HTTP responses": Authorization is never covered by a wildcard, so every header is named.
const ALLOW_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE';
const ALLOW_HEADERS = 'Authorization, Content-Type, If-Match, Prefer, Last-Event-ID';
/** The response headers the hub sends beyond the CORS-safelisted ones (Content-Type, Last-Modified…). */
const EXPOSE_HEADERS = 'Location, Link, X-Total-Count, Retry-After, Content-Location, Preference-Applied, WWW-Authenticate, Allow, Accept-Patch';
/** Chromium caps a cached preflight at two hours; Firefox allows a day. */
const MAX_AGE_SECONDS = 7200;

/** Handles CORS for one request; true when it answered the request itself (a preflight). */
export type CorsHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

/**
 * A handler for these exact origins (`https://app.example:8443`, as browsers serialize the Origin
 * header), or undefined when there are none: then the binding sends no CORS headers at all.
 * No Access-Control-Allow-Credentials: the API authenticates with bearer tokens the page sends
 * itself, not cookies, so requests need no credentials mode (Fetch, "CORS protocol and credentials").
 */
export function createCorsHandler(origins: readonly string[]): CorsHandler | undefined {
  if (origins.length === 0) return undefined;
  const allowed = new Set(origins);
  return (req, res) => {
    // Each answer depends on Origin, so a shared cache must not serve it to another origin
    // (Fetch, "CORS protocol and HTTP caches").
    res.setHeader('Vary', 'Origin');
    const origin = req.headers.origin;
    if (origin === undefined) return false;
    // Fetch, "HTTP requests": a CORS-preflight request is OPTIONS with Access-Control-Request-Method.
    const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
    if (!allowed.has(origin)) {
      if (!preflight) return false;
      // Fetch, "HTTP responses": a server that refuses to share may say so with 403, omitting the CORS headers.
      sendProblem(res, forbidden(`the origin ${origin} may not use this hub from a browser; the hub's --cors-origin list does not name it`).problem);
      return true;
    }
    res.setHeader('Access-Control-Allow-Origin', origin);
    if (!preflight) {
      res.setHeader('Access-Control-Expose-Headers', EXPOSE_HEADERS);
      return false;
    }
    res.writeHead(204, {
      'Access-Control-Allow-Methods': ALLOW_METHODS,
      'Access-Control-Allow-Headers': ALLOW_HEADERS,
      'Access-Control-Max-Age': String(MAX_AGE_SECONDS),
    });
    res.end();
    return true;
  };
}
