// A small path router: routes are segment patterns (`things/:id/properties/:name`), literal
// segments win over parameters, and a path that exists under other methods yields 405 + Allow.

import { badRequest } from '@twinhub/core';

export interface RouteMatch<T> {
  route: T;
  params: Record<string, string>;
  /** The pattern the route was added with (access logs and metrics name it, never the path). */
  pattern: string;
}

export type RouteLookup<T> = { kind: 'found'; match: RouteMatch<T> } | { kind: 'method'; allow: string[] } | { kind: 'none' };

interface Entry<T> {
  method: string;
  pattern: string;
  segments: string[];
  literals: number;
  route: T;
}

export class Router<T> {
  private readonly entries: Entry<T>[] = [];

  add(method: string, pattern: string, route: T): this {
    const segments = pattern.split('/').filter((segment) => segment.length > 0);
    this.entries.push({ method, pattern, segments, literals: segments.filter((s) => !s.startsWith(':')).length, route });
    return this;
  }

  /** Every route, in registration order (the API description is generated from them). */
  list(): Array<{ method: string; pattern: string; route: T }> {
    return this.entries.map(({ method, pattern, route }) => ({ method, pattern, route }));
  }

  /** Looks up a raw (still percent-encoded) path. Throws 400 for malformed percent-encoding. */
  lookup(method: string, rawPath: string): RouteLookup<T> {
    const parts = rawPath.split('/').filter((segment) => segment.length > 0);
    let segments: string[];
    try {
      segments = parts.map((part) => decodeURIComponent(part));
    } catch {
      throw badRequest(`the path ${JSON.stringify(rawPath)} has malformed percent-encoding`);
    }
    let best: { entry: Entry<T>; params: Record<string, string> } | undefined;
    const allow = new Set<string>();
    for (const entry of this.entries) {
      const params = matchSegments(entry.segments, segments);
      if (!params) continue;
      if (entry.method !== method) {
        allow.add(entry.method);
        continue;
      }
      if (!best || entry.literals > best.entry.literals) best = { entry, params };
    }
    if (best) return { kind: 'found', match: { route: best.entry.route, params: best.params, pattern: best.entry.pattern } };
    if (allow.size > 0) return { kind: 'method', allow: [...allow].sort() };
    return { kind: 'none' };
  }
}

function matchSegments(pattern: string[], segments: string[]): Record<string, string> | undefined {
  if (pattern.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i].startsWith(':')) params[pattern[i].slice(1)] = segments[i];
    else if (pattern[i] !== segments[i]) return undefined;
  }
  return params;
}
