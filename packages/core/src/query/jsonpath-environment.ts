// RFC 9535 (JSONPath) as json-p3 implements it, strict, with the match() and search() functions run
// on RE2, linear in the input: neither a twin query nor a TD search can stall the hub with a
// pattern that backtracks. Shared by the twin query language and the HTTP binding's TD search.

import { FunctionExpressionType, JSONPathEnvironment, type FilterFunction } from 'json-p3';
import { RE2JS } from 're2js';

/** Compiled patterns kept per regex function (a filter run on every candidate compiles its pattern once). */
const PATTERN_CACHE_SIZE = 64;

/**
 * RFC 9535 §2.4.6/§2.4.7 match() (whole string) and search() (any substring) on RE2, linear in the
 * input, so no pattern can stall the hub over 100 000 twins. A pattern RE2 cannot compile (or that
 * is no I-Regexp) yields LogicalFalse, as the RFC says for an invalid pattern.
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

/** I-Regexp `.` (outside a character class) is any character but CR and LF (RFC 9485 §5.3); RE2's also matches CR. */
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

class LinearJsonPath extends JSONPathEnvironment {
  protected override setupFilterFunctions(): void {
    super.setupFilterFunctions();
    this.functionRegister.set('match', new LinearRegexFunction(true));
    this.functionRegister.set('search', new LinearRegexFunction(false));
  }
}

/** A strict RFC 9535 environment with linear-time match()/search(); descendant segments stop `maxRecursionDepth` levels down. */
export function linearJsonPath(maxRecursionDepth: number): JSONPathEnvironment {
  return new LinearJsonPath({ strict: true, maxRecursionDepth });
}
