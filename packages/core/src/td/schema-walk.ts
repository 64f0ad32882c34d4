// Every DataSchema of a TD, nested ones included, with its JSON pointer: where checks that must
// cover all schemas (e.g. that each `pattern` can run in linear time) find them.

import { escapePointerToken } from './json-pointer.js';

type JsonObject = Record<string, unknown>;

const isObject = (value: unknown): value is JsonObject => value !== null && typeof value === 'object' && !Array.isArray(value);

/** Members of an affordance that hold one DataSchema (TD 1.1 §5.3.1.3, §5.3.1.4). */
const AFFORDANCE_SCHEMAS = { properties: [], actions: ['input', 'output'], events: ['subscription', 'data', 'dataResponse', 'cancellation'] } as const;
/** Members of a schema that hold one schema: DataSchema (TD 1.1 §5.3.2) and JSON Schema applicators. */
// `items` is in both lists: one schema for every element, or an array of them (a tuple).
const ONE_SCHEMA = ['items', 'additionalItems', 'additionalProperties', 'contains', 'propertyNames', 'not', 'if', 'then', 'else'];
/** Members of a schema that hold an array of schemas. */
const SCHEMA_ARRAYS = ['items', 'oneOf', 'anyOf', 'allOf'];
/** Members of a schema that hold schemas by name. */
const SCHEMA_MAPS = ['properties', 'patternProperties', 'dependentSchemas', '$defs', 'definitions'];

/**
 * Calls `visit` for every DataSchema of `td`: a property affordance itself, action input/output,
 * event subscription/data/dataResponse/cancellation, uriVariables of any affordance,
 * schemaDefinitions (TD 1.1 §5.3.1.1), and every schema nested in those. Recursive: callers must
 * have bounded the TD's depth first (see json-depth.ts).
 */
export function forEachDataSchema(td: JsonObject, visit: (schema: JsonObject, pointer: string) => void): void {
  const walk = (schema: unknown, pointer: string): void => {
    if (!isObject(schema)) return;
    visit(schema, pointer);
    for (const key of ONE_SCHEMA) walk(schema[key], `${pointer}/${key}`);
    for (const key of SCHEMA_ARRAYS) {
      const list = schema[key];
      if (Array.isArray(list)) {
        for (const [i, member] of list.entries()) walk(member, `${pointer}/${key}/${i}`);
      }
    }
    for (const key of SCHEMA_MAPS) walkMap(schema[key], `${pointer}/${key}`);
  };
  const walkMap = (map: unknown, pointer: string): void => {
    if (!isObject(map)) return;
    for (const [name, schema] of Object.entries(map)) walk(schema, `${pointer}/${escapePointerToken(name)}`);
  };

  walkMap(td.schemaDefinitions, '/schemaDefinitions');
  for (const [kind, members] of Object.entries(AFFORDANCE_SCHEMAS)) {
    const affordances = td[kind];
    if (!isObject(affordances)) continue;
    for (const [name, affordance] of Object.entries(affordances)) {
      if (!isObject(affordance)) continue;
      const pointer = `/${kind}/${escapePointerToken(name)}`;
      if (kind === 'properties') walk(affordance, pointer);
      for (const member of members) walk(affordance[member], `${pointer}/${member}`);
      walkMap(affordance.uriVariables, `${pointer}/uriVariables`);
    }
  }
}
