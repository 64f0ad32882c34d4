// Thing Description validation: the official W3C TD 1.1 JSON Schema, plus the checks the schema
// cannot express (hub ID and name rules, security names that must be defined, usable DataSchemas).

import { createRequire } from 'node:module';
import AjvModule, { type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { badRequest, payloadTooLarge } from '../model/errors.js';
import type { ProblemDetailItem, ThingDescription } from '../model/types.js';
import { formatAjvErrors } from './ajv-errors.js';
import { dataSchemaProblem } from './data-schema.js';
import { MAX_TD_DEPTH, pointerBeyondDepth } from './json-depth.js';
import { escapePointerToken } from './json-pointer.js';
import { linearRegExp, patternProblem } from './linear-regexp.js';
import { affordanceNameProblem, thingIdProblem } from './names.js';
import { forEachDataSchema } from './schema-walk.js';

// ajv and ajv-formats are CommonJS modules whose `module.exports` also carries `.default`.
const Ajv = AjvModule.default;
const addFormats = addFormatsModule.default;

/** At most this many problems are listed; a TD can be broken in thousands of places. */
const MAX_REPORTED_PROBLEMS = 100;
const AFFORDANCE_KINDS = ['properties', 'actions', 'events'] as const;

/** Security scheme names → the TD schema definition that describes them. */
const SCHEME_DEFINITIONS = new Map([
  ['nosec', 'noSecurityScheme'],
  ['auto', 'autoSecurityScheme'],
  ['combo', 'comboSecurityScheme'],
  ['basic', 'basicSecurityScheme'],
  ['digest', 'digestSecurityScheme'],
  ['apikey', 'apiKeySecurityScheme'],
  ['bearer', 'bearerSecurityScheme'],
  ['psk', 'pskSecurityScheme'],
  ['oauth2', 'oAuth2SecurityScheme'],
]);

interface TdSchema {
  validate: ValidateFunction;
  definition(name: string): ValidateFunction;
}
let tdSchema: TdSchema | undefined;

/** The TD 1.1 schema, compiled on first use and kept for the life of the process. */
function loadTdSchema(): TdSchema {
  if (!tdSchema) {
    const require = createRequire(import.meta.url);
    const schema = require('wot-thing-description-types/schema/td-json-schema-validation.json') as Record<string, unknown>;
    // strict: false because the W3C schema uses draft-07 idioms ajv's strict mode warns about. Its
    // patterns (BCP 47 language tags...) run on TD strings, so they too run on the linear engine.
    const ajv = new Ajv({ strict: false, allErrors: true, logger: false, code: { regExp: linearRegExp } });
    addFormats(ajv);
    const validate = ajv.compile(schema);
    const definition = (name: string) => {
      const found = ajv.getSchema(`${String(schema.$id)}#/definitions/${name}`);
      if (!found) throw new Error(`the TD schema has no definition ${name}`);
      return found;
    };
    tdSchema = { validate, definition };
  }
  return tdSchema;
}

/**
 * Checks a TD (parsed JSON, or JSON text) and returns it as a ThingDescription (the same object
 * when given an object; it is not copied). Throws a 413 HubError when its JSON exceeds `maxBytes`,
 * a 400 when it nests deeper than MAX_TD_DEPTH (checked before anything recursive runs), and a 400
 * HubError whose `errors` list every problem as { pointer, message } otherwise.
 * `id` is optional (as in TD 1.1), but when present it must follow the hub's ID rules.
 */
export function validateThingDescription(input: unknown, maxBytes: number): ThingDescription {
  const td = parseWithinLimit(input, maxBytes);
  if (td === null || typeof td !== 'object' || Array.isArray(td)) {
    throw badRequest('A Thing Description must be a JSON object.', [{ pointer: '', message: 'must be a JSON object' }]);
  }
  const record = td as Record<string, unknown>;

  const schema = loadTdSchema();
  const problems = schema.validate(record) ? [] : formatAjvErrors(schema.validate.errors ?? [], record);
  /** Replaces the schema's problems at and under `pointer` with more precise ones. */
  const replace = (pointer: string, ...better: ProblemDetailItem[]) => {
    const kept = problems.filter((p) => p.pointer !== pointer && !p.pointer.startsWith(`${pointer}/`));
    problems.splice(0, problems.length, ...kept, ...better);
  };
  // The schema tries every kind of security scheme; once `scheme` names one, only that one matters.
  const definitions = record.securityDefinitions;
  if (definitions !== null && typeof definitions === 'object' && !Array.isArray(definitions)) {
    for (const [name, scheme] of Object.entries(definitions)) {
      const kind = scheme !== null && typeof scheme === 'object' ? (scheme as Record<string, unknown>).scheme : undefined;
      if (typeof kind !== 'string') continue;
      const definition = SCHEME_DEFINITIONS.get(kind) ?? (/.+:/.test(kind) ? 'additionalSecurityScheme' : undefined);
      if (!definition) continue;
      const validate = schema.definition(definition);
      const pointer = `/securityDefinitions/${escapePointerToken(name)}`;
      replace(pointer, ...(validate(scheme) ? [] : formatAjvErrors(validate.errors ?? [], scheme, pointer)));
    }
  }
  if ('id' in record) {
    const idProblem = thingIdProblem(record.id);
    if (idProblem) replace('/id', { pointer: '/id', message: idProblem });
  }
  const types = record['@type'];
  if (types === 'tm:ThingModel' || (Array.isArray(types) && types.includes('tm:ThingModel'))) {
    replace('/@type', {
      pointer: '/@type',
      message: 'is a Thing Model (tm:ThingModel), which cannot be registered: register a Thing Description instantiated from it',
    });
  }
  problems.push(...affordanceNameProblems(record), ...securityReferenceProblems(record), ...patternProblems(record));
  // Only a schema-valid TD is worth compiling; this catches what else ajv cannot use.
  if (problems.length === 0) problems.push(...unusableDataSchemas(record));

  if (problems.length > 0) {
    const first = problems[0];
    const shown = problems.slice(0, MAX_REPORTED_PROBLEMS);
    const count =
      problems.length === 1 ? '1 problem' : `${problems.length} problems${problems.length > shown.length ? ` (the first ${shown.length} are listed)` : ''}`;
    throw badRequest(`The Thing Description is invalid: ${count}; first, at ${first.pointer || '/'}: ${first.message}.`, shown);
  }
  return record as ThingDescription;
}

function parseWithinLimit(input: unknown, maxBytes: number): unknown {
  let text: string | undefined;
  if (typeof input === 'string') text = input;
  else {
    checkDepth(input);
    try {
      text = JSON.stringify(input);
    } catch {
      text = undefined;
    }
    if (text === undefined) throw badRequest('The Thing Description cannot be represented as JSON.', [{ pointer: '', message: 'must be a JSON object' }]);
  }
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > maxBytes) throw payloadTooLarge(`The Thing Description is ${bytes} bytes of JSON; this hub accepts at most ${maxBytes}.`);
  if (typeof input !== 'string') return input;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : 'syntax error';
    throw badRequest(`The Thing Description is not valid JSON: ${reason}.`, [{ pointer: '', message: `is not valid JSON: ${reason}` }]);
  }
  checkDepth(parsed);
  return parsed;
}

function checkDepth(td: unknown): void {
  const pointer = pointerBeyondDepth(td, MAX_TD_DEPTH);
  if (pointer === undefined) return;
  const message = `is nested deeper than ${MAX_TD_DEPTH} levels of objects and arrays, the hub's limit for a Thing Description`;
  throw badRequest(`The Thing Description is nested too deeply: ${pointer} ${message}.`, [{ pointer, message }]);
}

function affordancesOf(td: Record<string, unknown>, kind: (typeof AFFORDANCE_KINDS)[number]): [string, Record<string, unknown>][] {
  const map = td[kind];
  if (map === null || typeof map !== 'object' || Array.isArray(map)) return [];
  return Object.entries(map).filter((entry): entry is [string, Record<string, unknown>] => {
    const value = entry[1];
    return value !== null && typeof value === 'object' && !Array.isArray(value);
  });
}

/** Affordance and uriVariable names: bindings put them in URLs and topics, the hub uses them as keys. */
function affordanceNameProblems(td: Record<string, unknown>): ProblemDetailItem[] {
  const problems: ProblemDetailItem[] = [];
  const check = (map: unknown, pointer: string) => {
    if (map === null || typeof map !== 'object') return;
    for (const name of Object.keys(map)) {
      const problem = affordanceNameProblem(name);
      if (problem) problems.push({ pointer: `${pointer}/${escapePointerToken(name)}`, message: `the name ${JSON.stringify(name)} ${problem}` });
    }
  };
  for (const kind of AFFORDANCE_KINDS) {
    check(td[kind], `/${kind}`);
    for (const [name, affordance] of affordancesOf(td, kind)) check(affordance.uriVariables, `/${kind}/${escapePointerToken(name)}/uriVariables`);
  }
  return problems;
}

/** Every `pattern` (and `patternProperties` key) of every DataSchema must run in linear time. */
function patternProblems(td: Record<string, unknown>): ProblemDetailItem[] {
  const problems: ProblemDetailItem[] = [];
  const check = (pattern: string, pointer: string) => {
    const problem = patternProblem(pattern);
    if (problem) problems.push({ pointer, message: `cannot be used to validate data: the pattern ${JSON.stringify(pattern)} ${problem}` });
  };
  forEachDataSchema(td, (schema, pointer) => {
    if (typeof schema.pattern === 'string') check(schema.pattern, `${pointer}/pattern`);
    const patternProperties = schema.patternProperties;
    if (patternProperties !== null && typeof patternProperties === 'object' && !Array.isArray(patternProperties)) {
      for (const key of Object.keys(patternProperties)) check(key, `${pointer}/patternProperties/${escapePointerToken(key)}`);
    }
  });
  return problems;
}

/** Every security name used (top level, forms, combo schemes) must be a key of securityDefinitions. */
function securityReferenceProblems(td: Record<string, unknown>): ProblemDetailItem[] {
  const definitions = td.securityDefinitions;
  if (definitions === null || typeof definitions !== 'object' || Array.isArray(definitions)) return [];
  const defined = new Set(Object.keys(definitions));
  const problems: ProblemDetailItem[] = [];
  const check = (pointer: string, value: unknown) => {
    const names = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [];
    names.forEach((name, i) => {
      if (typeof name === 'string' && !defined.has(name)) {
        const at = typeof value === 'string' ? pointer : `${pointer}/${i}`;
        problems.push({ pointer: at, message: `names the security scheme ${JSON.stringify(name)}, which is not defined in securityDefinitions` });
      }
    });
  };
  const checkForms = (pointer: string, forms: unknown) => {
    if (!Array.isArray(forms)) return;
    forms.forEach((form, i) => {
      if (form !== null && typeof form === 'object' && 'security' in form) check(`${pointer}/${i}/security`, (form as Record<string, unknown>).security);
    });
  };
  check('/security', td.security);
  for (const [name, scheme] of Object.entries(definitions)) {
    if (scheme === null || typeof scheme !== 'object') continue;
    const pointer = `/securityDefinitions/${escapePointerToken(name)}`;
    const combo = scheme as Record<string, unknown>;
    if (combo.scheme !== 'combo') continue;
    if (Array.isArray(combo.oneOf)) check(`${pointer}/oneOf`, combo.oneOf);
    if (Array.isArray(combo.allOf)) check(`${pointer}/allOf`, combo.allOf);
  }
  checkForms('/forms', td.forms);
  for (const kind of AFFORDANCE_KINDS) {
    for (const [name, affordance] of affordancesOf(td, kind)) checkForms(`/${kind}/${escapePointerToken(name)}/forms`, affordance.forms);
  }
  return problems;
}

/** The DataSchemas the hub validates values against must compile. */
function unusableDataSchemas(td: Record<string, unknown>): ProblemDetailItem[] {
  const problems: ProblemDetailItem[] = [];
  const check = (pointer: string, schema: unknown) => {
    if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return;
    const problem = dataSchemaProblem(schema as Record<string, unknown>);
    if (problem) problems.push({ pointer, message: `cannot be used to validate data: ${problem}` });
  };
  for (const [name, property] of affordancesOf(td, 'properties')) check(`/properties/${escapePointerToken(name)}`, property);
  for (const [name, action] of affordancesOf(td, 'actions')) {
    check(`/actions/${escapePointerToken(name)}/input`, action.input);
    check(`/actions/${escapePointerToken(name)}/output`, action.output);
  }
  for (const [name, event] of affordancesOf(td, 'events')) check(`/events/${escapePointerToken(name)}/data`, event.data);
  return problems;
}
