// JSONPath (RFC 9535) over the array of TDs a client may see, on json-p3, with the match() and
// search() functions run on RE2 (linear time) so no pattern in a query can backtrack for ever.

import { FunctionExpressionType, JSONPathEnvironment, JSONPathError, type FilterFunction, type JSONValue } from 'json-p3';
import { RE2JS } from 're2js';
import { badQuery, MAX_RESULT_BYTES, resultTooLarge, tooCostly, type Answer, type TdObject } from './protocol.js';

/** Compiled patterns kept per function, so a filter run on every node compiles its pattern once. */
const PATTERN_CACHE_SIZE = 32;

/**
 * RFC 9535 §2.4.6/§2.4.7: match() tests the whole string, search() any substring, against an
 * I-Regexp (RFC 9485) pattern; a pattern that is no valid regular expression yields LogicalFalse.
 * RE2 runs a superset of I-Regexp; its `.` matches `\r`, which I-Regexp's does not, hence the rewrite.
 */
class LinearRegexFunction implements FilterFunction {
  readonly argTypes = [FunctionExpressionType.ValueType, FunctionExpressionType.ValueType];
  readonly returnType = FunctionExpressionType.LogicalType;
  private readonly cache = new Map<string, RE2JS | null>();

  constructor(private readonly whole: boolean) {}

  call(value: unknown, pattern: unknown): boolean {
    if (typeof value !== 'string' || typeof pattern !== 'string') return false;
    const re = this.compiled(pattern);
    if (re === null) return false;
    return this.whole ? re.matches(value) : re.test(value);
  }

  private compiled(pattern: string): RE2JS | null {
    let re = this.cache.get(pattern);
    if (re !== undefined) return re;
    try {
      re = RE2JS.compile(iRegexpDots(pattern));
    } catch {
      re = null;
    }
    if (this.cache.size >= PATTERN_CACHE_SIZE) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(pattern, re);
    return re;
  }
}

/** I-Regexp `.` (outside a character class) is any character but CR and LF (RFC 9485 §5.3). */
function iRegexpDots(pattern: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '\\') {
      out += ch + (pattern[i + 1] ?? '');
      i++;
    } else if (ch === '.' && !inClass) out += '[^\\n\\r]';
    else {
      if (ch === '[') inClass = true;
      else if (ch === ']') inClass = false;
      out += ch;
    }
  }
  return out;
}

/** RFC 9535 as json-p3 implements it (strict), with linear-time match() and search(). */
class TwinhubJsonPath extends JSONPathEnvironment {
  protected override setupFilterFunctions(): void {
    super.setupFilterFunctions();
    this.functionRegister.set('match', new LinearRegexFunction(true));
    this.functionRegister.set('search', new LinearRegexFunction(false));
  }
}

// Descendant segments visit at most this many nested levels (TDs are shallow).
const environment = new TwinhubJsonPath({ strict: true, maxRecursionDepth: 64 });

/**
 * Runs `query` over `tds` and answers the matched values as a JSON array. Values are serialized
 * as they are found, so an answer that would pass the size limit stops early instead of growing.
 */
export function runJsonPath(query: string, tds: TdObject[]): Answer {
  let compiled: ReturnType<JSONPathEnvironment['compile']>;
  try {
    compiled = environment.compile(query);
  } catch (error) {
    // json-p3 names the fault and where: "unclosed bracketed selection ('$.foo[':6)".
    const reason = error instanceof JSONPathError ? error.message : String(error);
    return { ok: false, problem: badQuery(`invalid JSONPath query (RFC 9535): ${reason}; the number after the colon is the offset in the query`) };
  }
  const parts: string[] = [];
  let bytes = 2;
  try {
    for (const node of compiled.lazyQuery(tds as JSONValue)) {
      const json = JSON.stringify(node.value);
      bytes += Buffer.byteLength(json) + 1;
      if (bytes > MAX_RESULT_BYTES) return { ok: false, problem: resultTooLarge(undefined) };
      parts.push(json);
    }
  } catch (error) {
    if (error instanceof JSONPathError) return { ok: false, problem: tooCostly(`the JSONPath query could not be evaluated: ${error.message}`) };
    throw error;
  }
  return { ok: true, contentType: 'application/json', body: `[${parts.join(',')}]` };
}
