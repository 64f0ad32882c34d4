// How deeply parsed JSON nests, measured without recursion: a document nested deeper than the call
// stack must be refused before recursive code (ajv, JSON.stringify, structuredClone) touches it.

import { escapePointerToken } from './json-pointer.js';

/** How many levels of objects and arrays a TD (or a merge patch) may nest; the TD itself is level 1. */
export const MAX_TD_DEPTH = 64;

/**
 * The JSON pointer of the first object or array nested deeper than `maxDepth` levels in `value`
 * (level 1 is `value` itself), or undefined when none is. Iterative: any depth is safe to measure.
 */
export function pointerBeyondDepth(value: unknown, maxDepth: number): string | undefined {
  const stack: { node: unknown; depth: number; pointer: string }[] = [{ node: value, depth: 1, pointer: '' }];
  while (stack.length > 0) {
    const { node, depth, pointer } = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth > maxDepth) return pointer;
    const members: [string, unknown][] = Array.isArray(node) ? node.map((member, i) => [String(i), member]) : Object.entries(node);
    for (const [key, member] of members) {
      if (member !== null && typeof member === 'object') stack.push({ node: member, depth: depth + 1, pointer: `${pointer}/${escapePointerToken(key)}` });
    }
  }
  return undefined;
}
