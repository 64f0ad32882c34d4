// The hub's rules for Thing IDs and affordance names: safe to use as map keys, URL path segments
// (percent-encoded by bindings) and MQTT topic levels.

import { badRequest } from '../model/errors.js';

const MAX_THING_ID_LENGTH = 512;
const MAX_AFFORDANCE_NAME_LENGTH = 128;
const URI_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;
// C0 controls and space, DEL, C1 controls, and Unicode whitespace (NBSP, line separators...).
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is this pattern's job
const CONTROL_OR_WHITESPACE = /[\u0000-\u0020\u007f-\u009f\s]/u;
// Format characters (General Category Cf): bidi controls (U+202A-U+202E, U+2066-U+2069, U+200E/F),
// zero-width characters (U+200B-U+200D, U+2060), U+FEFF, tag characters... Invisible, they make
// different names look alike or display reordered (Unicode TR #36 §2, CVE-2021-42574).
const INVISIBLE_FORMATTING = /\p{Cf}/u;
// With the u flag a lone surrogate is a code point of category Cs; a valid pair is one astral code point.
const LONE_SURROGATE = /\p{Cs}/u;
/** Names every JavaScript object inherits: as keys they reach prototypes (prototype pollution). */
const PROTOTYPE_NAMES = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Why `text` (a Thing ID or a name) has characters the hub refuses, or undefined. Shared by every
 * name rule, so IDs and affordance names refuse the same characters.
 */
function characterProblem(text: string): string | undefined {
  if (CONTROL_OR_WHITESPACE.test(text)) return 'must not contain whitespace or control characters';
  if (INVISIBLE_FORMATTING.test(text))
    return 'must not contain invisible formatting characters (bidirectional controls, zero-width characters, U+FEFF): they make different names look alike';
  // encodeURIComponent throws on it (URIError): it has no UTF-8 encoding (RFC 3629 §3).
  if (LONE_SURROGATE.test(text)) return 'must not contain a lone UTF-16 surrogate: it has no UTF-8 encoding, so it cannot be put in a URL or MQTT topic';
  return undefined;
}

/** Why `id` is not an acceptable Thing ID, or undefined if it is. */
export function thingIdProblem(id: unknown): string | undefined {
  if (typeof id !== 'string') return 'must be a string';
  if (id.length === 0) return 'must not be empty';
  if (id.length > MAX_THING_ID_LENGTH) return `must be at most ${MAX_THING_ID_LENGTH} characters long`;
  const characters = characterProblem(id);
  if (characters) return characters;
  if (!URI_SCHEME.test(id)) return "must be a URI with a scheme, e.g. 'urn:dev:ops:32473-WoTLamp-1234'";
  if (id.includes('#')) return "must not contain '#' (a URI fragment)";
  if (id.split('/').includes('..')) return "must not contain a '..' path segment";
  return undefined;
}

/** Why `name` is not an acceptable property/action/event (or uriVariable) name, or undefined if it is. */
export function affordanceNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return 'must be a string';
  if (name.length === 0) return 'must not be empty';
  if (name.length > MAX_AFFORDANCE_NAME_LENGTH) return `must be at most ${MAX_AFFORDANCE_NAME_LENGTH} characters long`;
  if (PROTOTYPE_NAMES.has(name)) return 'is reserved: every JavaScript object has a member of that name, so it could reach shared prototypes';
  const characters = characterProblem(name);
  if (characters) return characters;
  const reserved = ['/', '#', '+'].find((c) => name.includes(c));
  if (reserved) return `must not contain '${reserved}'`;
  return undefined;
}

/** Returns `id` if it is an acceptable Thing ID; throws a 400 HubError saying why otherwise. */
export function checkThingId(id: unknown): string {
  const problem = thingIdProblem(id);
  if (problem) throw badRequest(`Invalid Thing ID: it ${problem}.`, [{ pointer: '/id', message: problem }]);
  return id as string;
}

/** Returns `name` if it is an acceptable affordance name; throws a 400 HubError saying why otherwise. */
export function checkAffordanceName(name: unknown): string {
  const problem = affordanceNameProblem(name);
  if (problem) throw badRequest(`Invalid affordance name: it ${problem}.`, [{ pointer: '/name', message: problem }]);
  return name as string;
}
