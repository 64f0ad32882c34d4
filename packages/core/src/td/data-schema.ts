// Validates property values, action inputs/outputs and event data against the WoT DataSchemas
// of a registered TD. Compiled validators are cached per schema object, so hot paths compile once.

import { define } from './merge-patch.js';
import AjvModule, { type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { ProblemDetailItem } from '../model/types.js';
import { formatAjvErrors } from './ajv-errors.js';
import { linearRegExp } from './linear-regexp.js';

// ajv and ajv-formats are CommonJS modules whose `module.exports` also carries `.default`.
const Ajv = AjvModule.default;
const addFormats = addFormatsModule.default;

/** JSON Schema keywords a WoT DataSchema (TD 1.1 §5.3.2) gives validation meaning to. */
const SCHEMA_VALUED = new Set(['oneOf', 'items', 'properties']);
const PLAIN_KEYWORDS = new Set([
  'type',
  'const',
  'enum',
  'required',
  'format',
  'pattern',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
]);
// Everything else (forms, observable, readOnly/writeOnly, unit, @type, titles, input/output, data,
// contentEncoding, default, uriVariables...) is an annotation or interaction metadata here.

// Values come from agents and operators, patterns from TDs: a backtracking RegExp would let one
// pattern such as ^(a+)+$ freeze the hub on a 40-character value, so patterns run on RE2.
const ajv = new Ajv({ strict: false, allErrors: true, logger: false, code: { regExp: linearRegExp } });
addFormats(ajv);

type Compiled = { validate: ValidateFunction } | { failure: string };
const compiled = new WeakMap<object, Compiled>();
/**
 * Validators by the text of their validation keywords: Things of one model repeat the same
 * schemas, and compiling one costs about a millisecond, so a fleet compiles each schema once.
 * Bounded, oldest dropped first: unique schemas cannot grow it without limit.
 */
const byText = new Map<string, Compiled>();
const MAX_SHARED_VALIDATORS = 10_000;

/**
 * Problems with `value` against `schema` (empty = valid). An undefined schema accepts anything.
 * Pointers are `pointerPrefix` + the location inside the value (e.g. "/input/level").
 */
export function validateAgainstSchema(schema: Record<string, unknown> | undefined, value: unknown, pointerPrefix: string): ProblemDetailItem[] {
  if (schema === undefined) return [];
  const entry = compile(schema);
  if ('failure' in entry)
    return [{ pointer: pointerPrefix, message: `cannot be checked: the Thing Description's schema for it is unusable (${entry.failure})` }];
  if (entry.validate(value)) return [];
  return formatAjvErrors(entry.validate.errors ?? [], value, pointerPrefix);
}

/** Why ajv cannot compile this DataSchema (e.g. an invalid `pattern`), or undefined if it can. */
export function dataSchemaProblem(schema: Record<string, unknown>): string | undefined {
  const entry = compile(schema);
  return 'failure' in entry ? entry.failure : undefined;
}

function compile(schema: Record<string, unknown>): Compiled {
  let entry = compiled.get(schema);
  if (entry) return entry;
  const jsonSchema = toJsonSchema(schema);
  const text = JSON.stringify(jsonSchema);
  entry = byText.get(text);
  if (!entry) {
    try {
      entry = { validate: ajv.compile(jsonSchema) };
    } catch (error) {
      entry = { failure: error instanceof Error ? error.message : String(error) };
    } finally {
      // ajv keeps every compiled schema in a Map; the caches here are the only ones we want.
      ajv.removeSchema(jsonSchema);
    }
    if (byText.size >= MAX_SHARED_VALIDATORS) byText.delete(byText.keys().next().value!);
    byText.set(text, entry);
  }
  compiled.set(schema, entry);
  return entry;
}

/** Keeps only the validation keywords of a DataSchema, recursively. */
function toJsonSchema(schema: unknown): Record<string, unknown> {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return {};
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (PLAIN_KEYWORDS.has(key)) out[key] = value;
    else if (!SCHEMA_VALUED.has(key)) continue;
    else if (key === 'oneOf') out.oneOf = Array.isArray(value) ? value.map(toJsonSchema) : value;
    else if (key === 'items') out.items = Array.isArray(value) ? value.map(toJsonSchema) : toJsonSchema(value);
    else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const properties: Record<string, unknown> = {};
      for (const [name, member] of Object.entries(value)) {
        define(properties, name, toJsonSchema(member));
      }
      out.properties = properties;
    }
  }
  return out;
}
