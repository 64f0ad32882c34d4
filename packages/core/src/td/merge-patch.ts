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

/** Assigns as an own data property, so a member named "__proto__" stays a member. */
function define(object: JsonObject, key: string, value: unknown): void {
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
}
