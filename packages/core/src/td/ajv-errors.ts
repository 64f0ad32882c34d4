// Turns ajv's raw error lists into problem items a user can act on. With allErrors, a failed
// oneOf/anyOf reports every branch's failure; these are collapsed into one message per location.

import type { ErrorObject } from 'ajv';
import type { ProblemDetailItem } from '../model/types.js';
import { escapePointerToken, resolvePointer } from './json-pointer.js';

const ALTERNATIVE_KEYWORDS = new Set(['enum', 'const', 'type', 'pattern']);
const COMBINATOR_KEYWORDS = new Set(['oneOf', 'anyOf']);

/**
 * @param errors ajv's errors (validator compiled with allErrors)
 * @param root the validated instance (to tell which branch of an alternative a value satisfied)
 * @param pointerPrefix prepended to every pointer (e.g. "/input")
 */
export function formatAjvErrors(errors: readonly ErrorObject[], root: unknown, pointerPrefix = ''): ProblemDetailItem[] {
  const combinators = errors.filter((e) => COMBINATOR_KEYWORDS.has(e.keyword));
  const combinatorPaths = new Set(combinators.map((e) => e.instancePath));
  let leaves = errors.filter((e) => !COMBINATOR_KEYWORDS.has(e.keyword) && e.keyword !== 'if');

  // A branch that got past a node's shape and failed deeper is the one the author meant: drop the
  // complaints of the other branches about the node itself ("must be array", missing `oneOf`...).
  const hasDescendant = (path: string) => leaves.some((e) => e.instancePath.startsWith(`${path}/`));
  const shadowed = new Set([...combinatorPaths].filter(hasDescendant));
  leaves = leaves.filter((e) => !shadowed.has(e.instancePath));

  const groups = new Map<string, ErrorObject[]>();
  for (const error of leaves) {
    const group = groups.get(error.instancePath);
    if (group) group.push(error);
    else groups.set(error.instancePath, [error]);
  }

  const items: ProblemDetailItem[] = [];
  const reported = new Set<string>();
  const add = (pointer: string, message: string) => {
    const key = `${pointer}\u0000${message}`;
    if (reported.has(key)) return;
    reported.add(key);
    items.push({ pointer: pointerPrefix + pointer, message });
  };

  for (const [path, group] of groups) {
    const value = resolvePointer(root, path);
    const messages: string[] = [];
    const alternatives = group.filter((e) => ALTERNATIVE_KEYWORDS.has(e.keyword));
    if (alternatives.length > 0) {
      const merged = mergeAlternatives(alternatives, value);
      if (merged !== undefined) messages.push(merged);
    }
    for (const error of group) {
      if (ALTERNATIVE_KEYWORDS.has(error.keyword)) continue;
      if (error.keyword === 'required') {
        const missing = String((error.params as { missingProperty: string }).missingProperty);
        add(`${path}/${escapePointerToken(missing)}`, `required property '${missing}' is missing`);
        continue;
      }
      messages.push(describe(error));
    }
    if (messages.length === 0) continue;
    // Several failures at one node under a oneOf/anyOf are alternatives, not all required.
    if (combinatorPaths.has(path)) add(path, messages.join(', or '));
    else for (const message of messages) add(path, message);
  }

  for (const error of combinators) {
    const path = error.instancePath;
    if (items.some((i) => i.pointer === pointerPrefix + path || i.pointer.startsWith(`${pointerPrefix + path}/`))) continue;
    const passing = (error.params as { passingSchemas?: unknown }).passingSchemas;
    add(
      path,
      error.keyword === 'oneOf' && Array.isArray(passing)
        ? 'matches more than one of the alternatives of a oneOf; it must match exactly one'
        : `must match ${error.keyword === 'oneOf' ? 'exactly one' : 'at least one'} of the allowed alternatives`,
    );
  }
  return items;
}

/** One message for enum/const/type/pattern failures at a node, or undefined if a branch accepted the value. */
function mergeAlternatives(errors: ErrorObject[], value: unknown): string | undefined {
  const allowed: unknown[] = [];
  const types = new Set<string>();
  const patterns: string[] = [];
  for (const error of errors) {
    const params = error.params as Record<string, unknown>;
    if (error.keyword === 'enum') allowed.push(...(params.allowedValues as unknown[]));
    else if (error.keyword === 'const') allowed.push(params.allowedValue);
    else if (error.keyword === 'type') for (const t of String(params.type).split(',')) types.add(t);
    else patterns.push(String(params.pattern));
  }
  if (errors.length > 1) {
    const valueType = jsonType(value);
    const acceptedByType = types.has(valueType) || (valueType === 'integer' && types.has('number'));
    if (acceptedByType || allowed.some((a) => sameJson(a, value))) return undefined;
  }
  const parts: string[] = [];
  const unique = allowed.filter((a, i) => allowed.findIndex((b) => sameJson(a, b)) === i);
  if (unique.length === 1) parts.push(`must be equal to ${JSON.stringify(unique[0])}`);
  else if (unique.length > 1) parts.push(`must be equal to one of the allowed values: ${unique.map((a) => JSON.stringify(a)).join(', ')}`);
  // A type already implied by the allowed values adds nothing ("string" next to a string enum).
  const allowedTypes = new Set(unique.map(jsonType).flatMap((t) => (t === 'integer' ? ['integer', 'number'] : [t])));
  const extraTypes = [...types].filter((t) => !allowedTypes.has(t));
  if (extraTypes.length > 0) parts.push(`${unique.length > 0 ? 'be ' : 'must be '}of type ${extraTypes.join(' or ')}`);
  for (const pattern of patterns) parts.push(`${parts.length > 0 ? '' : 'must '}match pattern ${JSON.stringify(pattern)}`);
  return parts.join(', or ');
}

function describe(error: ErrorObject): string {
  switch (error.keyword) {
    case 'not':
      return 'has a value that is not allowed here';
    case 'format':
      return `must be a valid ${JSON.stringify((error.params as { format: string }).format)} string`;
    default:
      return error.message ?? `fails the "${error.keyword}" rule`;
  }
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}
