// The web dashboard's files at /ui/ (public: the page needs no token, its API calls do): static
// files with their content types and cache headers, index.html for client-side routes, HEAD, no
// way out of the build folder; a 503 problem saying how to build when the build is missing.

import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { header, type HttpRouter, type RouteContext } from './route.js';
import { sendProblem } from './http-io.js';

/** Where the dashboard lives; the hub redirects browsers there from GET /. */
export const UI_PATH = '/ui/';

/**
 * The route patterns the dashboard is served on. The router has no wildcard, so each depth is a
 * route: files are at most two folders deep (assets/…), client routes (things/{id}) one.
 */
export const UI_PATTERNS = ['/ui', '/ui/:file', '/ui/:dir/:file', '/ui/:dir/:subdir/:file'] as const;

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

/**
 * The page may load only its own files and talk only to its own hub (fetch, WebSocket); no
 * framing (clickjacking). Sent with index.html, which is where a policy applies.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "connect-src 'self' ws: wss:",
  "img-src 'self' data:",
  "style-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Vite puts content-hashed files under assets/: they never change, so browsers may keep them. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

export function registerUiRoutes(router: HttpRouter, uiDir: string | undefined): void {
  const route = { public: true, handle: (ctx: RouteContext) => serveUi(ctx, uiDir) };
  for (const pattern of UI_PATTERNS) router.add('GET', pattern, route);
}

/** Whether a GET / comes from a browser navigating (it asks for HTML), not from an API client. */
export function wantsHtml(req: IncomingMessage): boolean {
  return /\btext\/html\b/i.test(header(req, 'accept') ?? '');
}

/** Sends a navigating browser from / to the dashboard. */
export function redirectToUi(res: ServerResponse): void {
  res.writeHead(302, { Location: UI_PATH, Vary: 'Accept', 'Cache-Control': 'no-cache', 'Content-Length': 0 });
  res.end();
}

async function serveUi({ req, res, url }: RouteContext, uiDir: string | undefined): Promise<void> {
  if (url.pathname === '/ui') {
    res.writeHead(301, { Location: `${UI_PATH}${url.search}`, 'Content-Length': 0 });
    res.end();
    return;
  }
  const root = uiDir === undefined ? undefined : resolve(uiDir);
  const index = root === undefined ? undefined : await regularFile(join(root, 'index.html'));
  if (root === undefined || index === undefined) {
    return sendProblem(
      res,
      {
        status: 503,
        title: 'Dashboard Not Built',
        detail:
          root === undefined
            ? 'this hub was started without a dashboard folder: install @twinhub/dashboard and run `npm run build` in the twinhub checkout (or pass --ui-dir), then restart the hub'
            : `the dashboard is not built (no index.html in ${root}): run \`npm run build\` in the twinhub checkout, then reload this page`,
      },
      { 'Retry-After': '30', 'Cache-Control': 'no-store' },
    );
  }
  const relative = url.pathname.slice(UI_PATH.length);
  const file = await staticFile(root, relative);
  if (file) return sendFile(req, res, file.path, file.size, file.mtime, relative.startsWith('assets/') ? IMMUTABLE : 'no-cache');
  // A missing asset is a 404 (a script tag must not get HTML); anything else is a client-side
  // route (things/{id}, admin …) that the app's router renders from index.html.
  if (relative.startsWith('assets/') || /\.[A-Za-z0-9]+$/.test(relative)) {
    return sendProblem(res, { status: 404, title: 'Not Found', detail: `the dashboard has no file ${url.pathname}` });
  }
  return sendFile(req, res, index.path, index.size, index.mtime, 'no-cache');
}

interface FoundFile {
  path: string;
  size: number;
  mtime: Date;
}

/**
 * The file `relative` (still percent-encoded) names under `root`, if it is a regular file inside
 * it. Each segment is decoded alone, so an encoded `/`, `\` or `..` (`..%2F..%2Fetc`) can never
 * step out of the folder; the resolved path is checked to be under the root as well.
 */
async function staticFile(root: string, relative: string): Promise<FoundFile | undefined> {
  if (relative === '') return undefined;
  const segments: string[] = [];
  for (const raw of relative.split('/')) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
    if (segment === '' || segment === '.' || segment === '..' || /[/\\\0]/.test(segment)) return undefined;
    segments.push(segment);
  }
  const path = resolve(root, ...segments);
  if (!path.startsWith(root + sep)) return undefined;
  return regularFile(path);
}

async function regularFile(path: string): Promise<FoundFile | undefined> {
  try {
    const stats = await stat(path);
    return stats.isFile() ? { path, size: stats.size, mtime: stats.mtime } : undefined;
  } catch {
    return undefined;
  }
}

async function sendFile(req: IncomingMessage, res: ServerResponse, path: string, size: number, mtime: Date, cacheControl: string): Promise<void> {
  const etag = `W/"${size.toString(16)}-${Math.floor(mtime.getTime()).toString(16)}"`;
  const type = CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
  const headers: Record<string, string | number> = {
    'Content-Type': type,
    'Cache-Control': cacheControl,
    ETag: etag,
    'Last-Modified': mtime.toUTCString(),
    'X-Content-Type-Options': 'nosniff',
  };
  if (type.startsWith('text/html')) headers['Content-Security-Policy'] = CONTENT_SECURITY_POLICY;
  // RFC 9110 §13.1.2: If-None-Match with the current tag means the browser's copy is still good.
  const ifNoneMatch = header(req, 'if-none-match');
  if (ifNoneMatch?.split(',').some((tag) => tag.trim() === etag || tag.trim() === '*')) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  // node:http sends no body for HEAD; the length still says what GET would send.
  const body = req.method === 'HEAD' ? undefined : await readFile(path);
  res.writeHead(200, { ...headers, 'Content-Length': body?.length ?? size });
  res.end(body);
}
