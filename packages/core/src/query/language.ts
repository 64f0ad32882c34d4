// The twin query language: an RFC 9535 (JSONPath) filter expression, the text that goes inside
// `$[?…]`, run by json-p3 over one query document per twin. Compiled once per distinct text
// (cached), bounded in size and nesting, with match()/search() on RE2 (linear time, jsonpath-environment.ts).

import { JSONPathError, jsonpath, type JSONPathQuery, type JSONValue } from 'json-p3';
import { linearJsonPath } from './jsonpath-environment.js';
import { badRequest } from '../model/errors.js';

import expressions = jsonpath.expressions;
import selectors = jsonpath.selectors;
type FilterContext = jsonpath.FilterContext;

/** Longest filter text accepted (characters). */
export const MAX_FILTER_CHARS = 2048;
/** Most expression and selector nodes a compiled filter may have: what one candidate costs is bounded by it. */
export const MAX_FILTER_NODES = 200;
/** Most filter selectors nested in one another (`@.a[?@.b[?…]]`). */
export const MAX_FILTER_NESTING = 4;
/** Most descendant segments (`..`) in a filter: each walks a whole subtree of every candidate. */
export const MAX_DESCENDANT_SEGMENTS = 2;
/** Compiled filters kept for reuse (a dashboard polls the same few queries). */
const CACHE_SIZE = 256;

/** A filter ready to run: its expression, and what the planner and the permission check need to know of it. */
export interface CompiledFilter {
  readonly text: string;
  readonly expression: expressions.LogicalExpression;
  /** Whether it names the twin's `tags` (agents may not: they never see tags). */
  readonly namesTags: boolean;
  /** The query document's fields it reads, or 'all' (a wildcard or descendant segment on the document): only these are built per candidate. */
  readonly fields: ReadonlySet<string> | 'all';
  /** Tests one query document. */
  matches(document: Record<string, unknown>): boolean;
}

// Strict RFC 9535 (no json-p3 extensions); descendant segments stop 32 levels down.
const environment = linearJsonPath(32);
const cache = new Map<string, CompiledFilter>();

/** The compiled filter for `text`, from the cache when it was compiled before; 400 naming the position of a fault. */
export function compileFilter(text: string): CompiledFilter {
  const cached = cache.get(text);
  if (cached) {
    // Most recently used last: the oldest is evicted first.
    cache.delete(text);
    cache.set(text, cached);
    return cached;
  }
  const compiled = compile(text);
  if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  cache.set(text, compiled);
  return compiled;
}

const PREFIX = '$[?';

function compile(text: string): CompiledFilter {
  if (text.trim() === '') throw badRequest('the query filter is empty; give an RFC 9535 filter expression such as @.title == "Lamp"');
  if (text.length > MAX_FILTER_CHARS) throw badRequest(`the query filter is ${text.length} characters; at most ${MAX_FILTER_CHARS}`);
  let query: JSONPathQuery;
  try {
    query = environment.compile(`${PREFIX}${text}]`);
  } catch (error) {
    if (!(error instanceof JSONPathError)) throw error;
    // json-p3 ends its message with "('<excerpt>':<offset in the whole path>)": say where in the filter.
    const reason = error.message.replace(/\s*\('.*':\d+\)$/s, '');
    const position = Math.max(0, Math.min(text.length, error.token.index - PREFIX.length));
    throw badRequest(`invalid query filter (RFC 9535 filter expression): ${reason} at position ${position}`, [
      { pointer: '/filter', message: `${reason} at position ${position}` },
    ]);
  }
  const [segment] = query.segments;
  const selector = segment?.selectors[0];
  if (query.segments.length !== 1 || segment.selectors.length !== 1 || !(selector instanceof selectors.FilterSelector)) {
    throw badRequest('the query filter must be one filter expression (what goes inside $[?…]), not a JSONPath query');
  }
  const shape = measure(selector.expression);
  if (shape.nodes > MAX_FILTER_NODES) throw badRequest(`the query filter has ${shape.nodes} terms; at most ${MAX_FILTER_NODES}`);
  if (shape.nesting > MAX_FILTER_NESTING) throw badRequest(`the query filter nests ${shape.nesting} filters; at most ${MAX_FILTER_NESTING}`);
  if (shape.descendants > MAX_DESCENDANT_SEGMENTS) {
    throw badRequest(`the query filter has ${shape.descendants} descendant segments (..); at most ${MAX_DESCENDANT_SEGMENTS}`);
  }
  const expression = selector.expression;
  return {
    text,
    expression,
    namesTags: shape.namesTags,
    fields: shape.allFields ? 'all' : shape.fields,
    matches(document) {
      const context: FilterContext = { environment, currentValue: document as JSONValue, rootValue: document as JSONValue, lazy: false };
      return expression.evaluate(context) === true;
    },
  };
}

interface Shape {
  nodes: number;
  nesting: number;
  descendants: number;
  namesTags: boolean;
  fields: Set<string>;
  allFields: boolean;
}

/** Counts the nodes of a filter, its deepest filter nesting and descendant segments, and whether a query on the document names `tags`. */
function measure(root: expressions.FilterExpression): Shape {
  const shape: Shape = { nodes: 0, nesting: 1, descendants: 0, namesTags: false, fields: new Set(), allFields: false };
  const visitExpression = (node: expressions.FilterExpression, depth: number): void => {
    shape.nodes++;
    if (node instanceof expressions.LogicalExpression) visitExpression(node.expression, depth);
    else if (node instanceof expressions.PrefixExpression) visitExpression(node.right, depth);
    else if (node instanceof expressions.InfixExpression) {
      visitExpression(node.left, depth);
      visitExpression(node.right, depth);
    } else if (node instanceof expressions.FunctionExtension) for (const arg of node.args) visitExpression(arg, depth);
    else if (node instanceof expressions.FilterQuery) {
      // `@` at the outermost level and `$` anywhere are the query document itself.
      const onDocument = node instanceof expressions.RootQuery || depth === 1;
      visitQuery(node.path, depth, onDocument);
    }
  };
  const visitQuery = (path: JSONPathQuery, depth: number, onDocument: boolean): void => {
    if (onDocument) {
      // The fields of the document this query reads: a name, or every field (`@`, `@.*`, `@..x`, `@[0]`).
      const first = path.segments[0];
      const name = first?.selectors[0];
      if (first && first.selectors.length === 1 && !first.toString().startsWith('..') && name instanceof selectors.NameSelector) shape.fields.add(name.name);
      else shape.allFields = true;
    }
    path.segments.forEach((segment, i) => {
      if (segment.toString().startsWith('..')) shape.descendants++;
      for (const selector of segment.selectors) {
        shape.nodes++;
        if (onDocument && i === 0 && selector instanceof selectors.NameSelector && selector.name === 'tags') shape.namesTags = true;
        if (selector instanceof selectors.FilterSelector) {
          shape.nesting = Math.max(shape.nesting, depth + 1);
          visitExpression(selector.expression, depth + 1);
        }
      }
    });
  };
  visitExpression(root, 1);
  return shape;
}
