// JSON Merge Patch (RFC 7396), used for partial TD updates.

import { badRequest } from '../model/errors.js';
import { MAX_TD_DEPTH, pointerBeyondDepth } from './json-depth.js';

type JsonObject = Record<string, unknown>;

const isObject = (value: unknown): value is JsonObject => value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * Applies `patch` to `target` as RFC 7396 §2 describes. Pure: neither argument is modified and
 * the result shares no objects or arrays with them. Throws a 400 HubError when either nests deeper
 * than `maxDepth` (checked without recursion, before the recursive merge): the result would be a
 * TD too deep to accept, and a deep enough one would overflow the call stack here.
 */
export function applyMergePatch(target: unknown, patch: unknown, maxDepth = MAX_TD_DEPTH): unknown {
  for (const [what, document] of [
    ['merge patch', patch],
    ['document to patch', target],
  ] as const) {
    const pointer = pointerBeyondDepth(document, maxDepth);
    if (pointer === undefined) continue;
    const message = `is nested deeper than ${maxDepth} levels of objects and arrays, the hub's limit for a Thing Description`;
    throw badRequest(`The ${what} is nested too deeply: ${pointer} ${message}.`, [{ pointer, message }]);
  }
  return merge(target, patch);
}

function merge(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const result: JsonObject = {};
  const base = isObject(target) ? target : {};
  // Members keep their order: the target's first, then the ones the patch adds.
  for (const [key, value] of Object.entries(base)) {
    if (!Object.hasOwn(patch, key)) define(result, key, structuredClone(value));
    else if (patch[key] !== null) define(result, key, merge(value, patch[key]));
  }
  for (const [key, value] of Object.entries(patch)) {
    if (value !== null && !Object.hasOwn(base, key)) define(result, key, merge(undefined, value));
  }
  return result;
}

/** Assigns as an own data property, so a member named "__proto__" stays a member (never a prototype). */
export function define(object: JsonObject, key: string, value: unknown): void {
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * The merge patch (RFC 7396) that turns `from` into `to`: members removed become null, changed
 * ones are patched recursively when both sides are objects, replaced otherwise (arrays whole).
 * `{}` when nothing changed. Values are not copied: treat the result as read-only.
 */
export function createMergePatch(from: JsonObject, to: JsonObject): JsonObject {
  const patch: JsonObject = {};
  for (const key of Object.keys(from)) if (!Object.hasOwn(to, key)) define(patch, key, null);
  for (const [key, value] of Object.entries(to)) {
    if (!Object.hasOwn(from, key)) define(patch, key, value);
    else if (isObject(value) && isObject(from[key])) {
      const inner = createMergePatch(from[key], value);
      if (Object.keys(inner).length > 0) define(patch, key, inner);
    } else if (!sameJson(from[key], value)) define(patch, key, value);
  }
  return patch;
}

function sameJson(a: unknown, b: unknown): boolean {
  return a === b || (typeof a === 'object' && typeof b === 'object' && JSON.stringify(a) === JSON.stringify(b));
}
