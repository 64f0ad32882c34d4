// JSON Merge Patch (RFC 7396), used for partial TD updates and tag edits.

type JsonObject = Record<string, unknown>;

const isObject = (value: unknown): value is JsonObject => value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * Applies `patch` to `target` as RFC 7396 §2 describes. Pure: neither argument is modified and
 * the result shares no objects or arrays with them.
 */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const result: JsonObject = {};
  const base = isObject(target) ? target : {};
  // Members keep their order: the target's first, then the ones the patch adds.
  for (const [key, value] of Object.entries(base)) {
    if (!Object.hasOwn(patch, key)) define(result, key, structuredClone(value));
    else if (patch[key] !== null) define(result, key, applyMergePatch(value, patch[key]));
  }
  for (const [key, value] of Object.entries(patch)) {
    if (value !== null && !Object.hasOwn(base, key)) define(result, key, applyMergePatch(undefined, value));
  }
  return result;
}

/** Assigns as an own data property, so a member named "__proto__" stays a member. */
function define(object: JsonObject, key: string, value: unknown): void {
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
}
