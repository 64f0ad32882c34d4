// The regular-expression engine for JSON Schema `pattern`s: RE2 (pure-JS re2js), which matches in
// time linear in the input, so no pattern a TD declares can stall the event loop (ReDoS).

import type { Options } from 'ajv';
import { RE2JS } from 're2js';

type RegExpEngine = NonNullable<NonNullable<Options['code']>['regExp']>;

/**
 * ajv's `code.regExp` engine. ajv passes the "u" flag; RE2 always matches by code point, as the
 * flag asks. `code` is what ajv's standalone code generation would print; the hub never uses it.
 */
export const linearRegExp: RegExpEngine = Object.assign((pattern: string) => RE2JS.compile(toRe2Syntax(pattern)), { code: 'linearRegExp' });

/**
 * Why `pattern` is not usable as a JSON Schema pattern here, or undefined if it is. It must be an
 * ECMA-262 regular expression (JSON Schema Validation §6.3.3, so consumers of the twin TD can run
 * it too) that RE2 can run: RE2 has no lookaround and no backreferences, the constructs that need
 * backtracking (https://github.com/google/re2/wiki/Syntax).
 */
export function patternProblem(pattern: string): string | undefined {
  try {
    new RegExp(pattern, 'u');
  } catch (error) {
    return `is not an ECMA-262 regular expression (${error instanceof Error ? error.message : String(error)})`;
  }
  try {
    RE2JS.compile(toRe2Syntax(pattern));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return `uses syntax the hub's linear-time regular-expression engine (RE2) cannot run, such as lookaround or a backreference (${reason})`;
  }
  return undefined;
}

const HEX4 = /^[0-9A-Fa-f]{4}$/;

/**
 * ECMA-262 spells a code point `\uXXXX` (a surrogate pair as two of them) or `\u{X…}`; RE2 spells
 * it `\x{X…}`. Every other escape is passed on as is.
 */
function toRe2Syntax(pattern: string): string {
  let out = '';
  let i = 0;
  while (i < pattern.length) {
    if (pattern[i] !== '\\') {
      out += pattern[i++];
      continue;
    }
    if (pattern[i + 1] === 'u' && pattern[i + 2] === '{') {
      const end = pattern.indexOf('}', i + 3);
      if (end > i + 3 && /^[0-9A-Fa-f]+$/.test(pattern.slice(i + 3, end))) {
        out += `\\x{${pattern.slice(i + 3, end)}}`;
        i = end + 1;
        continue;
      }
    }
    const unit = pattern[i + 1] === 'u' ? pattern.slice(i + 2, i + 6) : '';
    if (HEX4.test(unit)) {
      let codePoint = parseInt(unit, 16);
      const low = pattern.slice(i + 6, i + 8) === '\\u' ? pattern.slice(i + 8, i + 12) : '';
      const lowUnit = HEX4.test(low) ? parseInt(low, 16) : -1;
      if (codePoint >= 0xd800 && codePoint <= 0xdbff && lowUnit >= 0xdc00 && lowUnit <= 0xdfff) {
        codePoint = 0x10000 + ((codePoint - 0xd800) << 10) + (lowUnit - 0xdc00);
        i += 12;
      } else i += 6;
      out += `\\x{${codePoint.toString(16)}}`;
      continue;
    }
    out += pattern.slice(i, i + 2);
    i += 2;
  }
  return out;
}
