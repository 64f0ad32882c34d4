// The query planner: pulls the conjuncts an index can answer (agent ==, @type == / in, tag ==,
// title == / prefix, id ==) out of a filter and the listing's plain filters, and intersects the
// directory's indexes into the sorted candidate ids. The filter still runs on every candidate: an
// index only narrows what is evaluated, so a plan can never change an answer.

import { jsonpath, type JSONPathQuery } from 'json-p3';
import type { Client, Twin } from '../model/types.js';
import type { CompiledFilter } from './language.js';

import expressions = jsonpath.expressions;
import selectors = jsonpath.selectors;

/** What the planner needs of the directory. Sets are live: read them, never change them. */
export interface TwinIndexes {
  /** Every Thing id, sorted. */
  allIds(): readonly string[];
  get(thingId: string): Twin | undefined;
  withAgent(agentId: string): ReadonlySet<string>;
  withType(type: string): ReadonlySet<string>;
  withTag(key: string, value: string): ReadonlySet<string>;
  withTitle(title: string): ReadonlySet<string>;
  /** Ids of the Things whose title starts with `prefix` (a range of the sorted titles). */
  withTitlePrefix(prefix: string): ReadonlySet<string>;
  /** Bytes of the twin's stored JSON (page size budget). */
  bytesOf(thingId: string): number;
}

/** One indexed lookup. */
type Term =
  | { index: 'agent' | 'type' | 'title' | 'titlePrefix' | 'id'; key: string }
  | { index: 'tag'; key: string; value: string }
  /** A disjunction every part of which an index answers: the union of their ids. */
  | { index: 'any'; terms: Term[] };

/** The plain (non-filter) listing filters: owner, one @type, tag pairs. */
export interface PlainFilters {
  agent?: string;
  type?: string;
  tags?: Record<string, string>;
}

/** How a query found its candidates, for tests, logs and the HTTP `X-Query-Plan` header. */
export interface PlanExplain {
  /** `index`: candidates come from the named indexes; `scan`: every Thing is a candidate. */
  kind: 'index' | 'scan';
  /** The lookups intersected, e.g. `agent=a1`, `type in [Lamp,Sensor]`, `tag room=kitchen`, `title^=Kitchen`. */
  indexes: string[];
  /** How many Things the indexes left to evaluate. */
  candidates: number;
}

export interface Plan {
  /** Candidate Thing ids, sorted. */
  ids: readonly string[];
  explain: PlanExplain;
}

/** The names of a query's path when it is a plain `@.a.b` (or `$.a.b`) on the document, else undefined. */
function documentPath(node: expressions.FilterExpression): string[] | undefined {
  if (!(node instanceof expressions.FilterQuery)) return undefined;
  return namePath(node.path);
}

function namePath(path: JSONPathQuery): string[] | undefined {
  const names: string[] = [];
  for (const segment of path.segments) {
    const [selector] = segment.selectors;
    if (segment.selectors.length !== 1 || segment.toString().startsWith('..') || !(selector instanceof selectors.NameSelector)) return undefined;
    names.push(selector.name);
  }
  return names;
}

/** `path == 'literal'` in either order: the path and the string. */
function equality(node: expressions.FilterExpression): { path: string[]; value: string } | undefined {
  if (!(node instanceof expressions.InfixExpression) || node.operator !== '==') return undefined;
  for (const [a, b] of [
    [node.left, node.right],
    [node.right, node.left],
  ]) {
    const path = documentPath(a);
    if (path && b instanceof expressions.StringLiteral) return { path, value: b.value };
  }
  return undefined;
}

/** `@ == 'X' || @ == 'Y'` inside `@.type[?…]`: the values, or undefined when it is anything else. */
function currentEqualsAny(node: expressions.FilterExpression): string[] | undefined {
  if (node instanceof expressions.LogicalExpression) return currentEqualsAny(node.expression);
  if (node instanceof expressions.InfixExpression && node.operator === '||') {
    const left = currentEqualsAny(node.left);
    const right = currentEqualsAny(node.right);
    return left && right ? [...left, ...right] : undefined;
  }
  const eq = equality(node);
  return eq && eq.path.length === 0 ? [eq.value] : undefined;
}

/** A literal regex of the form `prefix.*` (no other metacharacter): the prefix. */
function literalPrefix(pattern: string): { prefix: string; whole: boolean } | undefined {
  const meta = /[\\.^$|?*+()[\]{}]/;
  if (pattern.endsWith('.*') && !meta.test(pattern.slice(0, -2))) return { prefix: pattern.slice(0, -2), whole: false };
  if (!meta.test(pattern)) return { prefix: pattern, whole: true };
  return undefined;
}

/** The index lookup that answers this conjunct, if one does. */
function termOf(node: expressions.FilterExpression): Term | undefined {
  if (node instanceof expressions.LogicalExpression) return termOf(node.expression);
  if (node instanceof expressions.InfixExpression && node.operator === '||') {
    const left = termOf(node.left);
    const right = termOf(node.right);
    return left && right ? { index: 'any', terms: [left, right] } : undefined;
  }
  const eq = equality(node);
  if (eq) {
    const [field, key, ...rest] = eq.path;
    if (rest.length > 0) return undefined;
    if (key === undefined && (field === 'agent' || field === 'id' || field === 'title')) return { index: field, key: eq.value };
    if (field === 'tags' && key !== undefined) return { index: 'tag', key, value: eq.value };
    return undefined;
  }
  // @type membership: `@.type[?@ == 'Lamp']`, `@.type[?@ == 'Lamp' || @ == 'Sensor']`.
  if (node instanceof expressions.FilterQuery && node.path.segments.length === 2) {
    const [first, second] = node.path.segments;
    const name = first.selectors[0];
    const filter = second.selectors[0];
    if (
      first.selectors.length === 1 &&
      name instanceof selectors.NameSelector &&
      name.name === 'type' &&
      !first.toString().startsWith('..') &&
      second.selectors.length === 1 &&
      filter instanceof selectors.FilterSelector &&
      !second.toString().startsWith('..')
    ) {
      const values = currentEqualsAny(filter.expression);
      if (values) return values.length === 1 ? { index: 'type', key: values[0] } : { index: 'any', terms: values.map((key) => ({ index: 'type', key })) };
    }
    return undefined;
  }
  // Title prefix or exact title: `match(@.title, 'Kitchen.*')`, `match(@.title, 'Kitchen lamp')`.
  if (node instanceof expressions.FunctionExtension && node.name === 'match' && node.args.length === 2) {
    const path = documentPath(node.args[0]);
    const pattern = node.args[1];
    if (path?.length === 1 && path[0] === 'title' && pattern instanceof expressions.StringLiteral) {
      const literal = literalPrefix(pattern.value);
      if (literal) return literal.whole ? { index: 'title', key: literal.prefix } : { index: 'titlePrefix', key: literal.prefix };
    }
  }
  return undefined;
}

/** The top-level conjuncts of a filter (`a && b && c`). */
function conjuncts(node: expressions.FilterExpression): expressions.FilterExpression[] {
  if (node instanceof expressions.LogicalExpression) return conjuncts(node.expression);
  if (node instanceof expressions.InfixExpression && node.operator === '&&') return [...conjuncts(node.left), ...conjuncts(node.right)];
  return [node];
}

function describe(term: Term): string {
  switch (term.index) {
    case 'any':
      return term.terms.every((t) => t.index === 'type')
        ? `type in [${term.terms.map((t) => (t as { key: string }).key).join(',')}]`
        : `(${term.terms.map(describe).join(' | ')})`;
    case 'tag':
      return `tag ${term.key}=${term.value}`;
    case 'titlePrefix':
      return `title^=${term.key}`;
    default:
      return `${term.index}=${term.key}`;
  }
}

function lookup(indexes: TwinIndexes, term: Term): ReadonlySet<string> {
  switch (term.index) {
    case 'agent':
      return indexes.withAgent(term.key);
    case 'type':
      return indexes.withType(term.key);
    case 'title':
      return indexes.withTitle(term.key);
    case 'titlePrefix':
      return indexes.withTitlePrefix(term.key);
    case 'id':
      return indexes.get(term.key) ? new Set([term.key]) : new Set();
    case 'tag':
      return indexes.withTag(term.key, term.value);
    case 'any': {
      const union = new Set<string>();
      for (const part of term.terms) for (const id of lookup(indexes, part)) union.add(id);
      return union;
    }
  }
}

/**
 * The candidates of a query: the intersection of every index the filter, the plain filters and
 * the client's role (an agent sees only its own Things) allow; every Thing when none applies.
 */
export function planQuery(indexes: TwinIndexes, client: Client, filter: CompiledFilter | undefined, plain: PlainFilters): Plan {
  const terms: Term[] = [];
  if (client.role === 'agent') terms.push({ index: 'agent', key: client.id });
  if (plain.agent !== undefined) terms.push({ index: 'agent', key: plain.agent });
  if (plain.type !== undefined) terms.push({ index: 'type', key: plain.type });
  for (const [key, value] of Object.entries(plain.tags ?? {})) terms.push({ index: 'tag', key, value });
  if (filter)
    for (const conjunct of conjuncts(filter.expression)) {
      const term = termOf(conjunct);
      if (term) terms.push(term);
    }
  if (terms.length === 0) {
    const ids = indexes.allIds();
    return { ids, explain: { kind: 'scan', indexes: [], candidates: ids.length } };
  }
  const sets = terms.map((term) => lookup(indexes, term));
  const smallest = sets.reduce((a, b) => (a.size <= b.size ? a : b));
  const ids = [...smallest].filter((id) => sets.every((set) => set === smallest || set.has(id))).sort();
  return { ids, explain: { kind: 'index', indexes: [...new Set(terms.map(describe))], candidates: ids.length } };
}
