import type { JsonSchema } from '../core/output/kind';

/**
 * Whether OpenAI's strict Structured Outputs (`response_format.json_schema.strict: true`) accepts a
 * schema, under its documented "Supported schemas" rules
 * (https://platform.openai.com/docs/guides/structured-outputs#supported-schemas):
 * - the root is an object, not an `anyOf`;
 * - every object has `additionalProperties: false` and lists every one of its properties in `required`
 *   (an optional field is written as a nullable type instead);
 * - only the supported keywords: `type` (string, number, boolean, integer, object, array, null),
 *   `properties`, `required`, `additionalProperties`, `items`, `enum`, `const`, `anyOf`, `$ref` and
 *   `$defs`/`definitions`, `description`/`title`; for strings `pattern` and `format` (its listed
 *   formats), for numbers `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`, `multipleOf`,
 *   for arrays `minItems`, `maxItems`. Anything else (`allOf`, `oneOf`, `not`, `if`, `minLength`,
 *   `default`, `patternProperties`, `uniqueItems`, boolean schemas…) makes it non-strict;
 * - at most 10 levels of nesting, 5,000 object properties and 1,000 enum values in all.
 * A schema it refuses is sent with `strict: false` (the model is then only guided, and the caller's
 * validator decides), never rejected by the server.
 */
export function strictSchemaProblem(schema: JsonSchema): string | undefined {
  if (!isObject(schema)) return 'the schema is not an object';
  if (schema.anyOf !== undefined) return 'the root is an anyOf';
  if (!typesOf(schema).includes('object') || typesOf(schema).length !== 1) return 'the root is not of type object';
  const totals = { properties: 0, enumValues: 0 };
  const problem = check(schema, '#', 0, true, totals);
  if (problem) return problem;
  if (totals.properties > MAX_PROPERTIES) return `more than ${MAX_PROPERTIES} object properties`;
  if (totals.enumValues > MAX_ENUM_VALUES) return `more than ${MAX_ENUM_VALUES} enum values`;
  return undefined;
}

/** True when `strictSchemaProblem` finds nothing: the schema can be sent with `strict: true`. */
export function canBeStrict(schema: JsonSchema): boolean {
  return strictSchemaProblem(schema) === undefined;
}

/** A schema or tool name the APIs accept (OpenAI's `json_schema.name`, Anthropic's tool name: `[a-zA-Z0-9_-]`, 1 to 64 characters). */
export function schemaName(name: string): string {
  return name.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64) || 'answer';
}

const MAX_DEPTH = 10;
const MAX_PROPERTIES = 5000;
const MAX_ENUM_VALUES = 1000;
const TYPES = new Set(['string', 'number', 'boolean', 'integer', 'object', 'array', 'null']);
const FORMATS = new Set(['date-time', 'time', 'date', 'duration', 'email', 'hostname', 'ipv4', 'ipv6', 'uuid']);
const COMMON = new Set(['type', 'description', 'title', 'enum', 'const', 'anyOf', '$ref']);
const BY_TYPE: Record<string, readonly string[]> = {
  object: ['properties', 'required', 'additionalProperties'],
  array: ['items', 'minItems', 'maxItems'],
  string: ['pattern', 'format'],
  number: ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'],
  integer: ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'],
};
const ROOT_ONLY = new Set(['$defs', 'definitions', '$schema']);

function check(s: unknown, at: string, depth: number, root: boolean, totals: { properties: number; enumValues: number }): string | undefined {
  if (!isObject(s)) return `${at} is not a schema object`;
  if (depth > MAX_DEPTH) return `${at} is nested deeper than ${MAX_DEPTH} levels`;
  const types = typesOf(s);
  if (s.type !== undefined && (types.length === 0 || types.some((t) => !TYPES.has(t)))) return `${at} has an unsupported type`;
  const allowed = new Set([...COMMON, ...types.flatMap((t) => BY_TYPE[t] ?? []), ...(root ? ROOT_ONLY : [])]);
  for (const key of Object.keys(s)) {
    if (!allowed.has(key)) return `${at} uses "${key}"`;
  }
  if (s.$ref !== undefined && (typeof s.$ref !== 'string' || !s.$ref.startsWith('#'))) return `${at} has a $ref outside the schema`;
  if (s.format !== undefined && (typeof s.format !== 'string' || !FORMATS.has(s.format))) return `${at} has an unsupported format`;
  if (s.enum !== undefined) {
    if (!Array.isArray(s.enum)) return `${at} has a malformed enum`;
    totals.enumValues += s.enum.length;
  }
  if (types.includes('object') || s.properties !== undefined) {
    if (s.additionalProperties !== false) return `${at} does not set additionalProperties to false`;
    const properties = s.properties ?? {};
    if (!isObject(properties)) return `${at} has malformed properties`;
    const required = Array.isArray(s.required) ? s.required : [];
    for (const [name, sub] of Object.entries(properties)) {
      totals.properties++;
      if (!required.includes(name)) return `${at} does not require its property "${name}"`;
      const p = check(sub, `${at}/properties/${name}`, depth + 1, false, totals);
      if (p) return p;
    }
  }
  if (s.items !== undefined) {
    const p = check(s.items, `${at}/items`, depth + 1, false, totals);
    if (p) return p;
  }
  if (s.anyOf !== undefined) {
    if (!Array.isArray(s.anyOf) || s.anyOf.length === 0) return `${at} has a malformed anyOf`;
    for (const [i, sub] of s.anyOf.entries()) {
      const p = check(sub, `${at}/anyOf/${i}`, depth + 1, false, totals);
      if (p) return p;
    }
  }
  for (const key of ['$defs', 'definitions'] as const) {
    if (!root || s[key] === undefined) continue;
    const defs = s[key];
    if (!isObject(defs)) return `${at}/${key} is malformed`;
    for (const [name, sub] of Object.entries(defs)) {
      const p = check(sub, `${at}/${key}/${name}`, 1, false, totals);
      if (p) return p;
    }
  }
  return undefined;
}

function typesOf(s: Record<string, unknown>): string[] {
  if (typeof s.type === 'string') return [s.type];
  if (Array.isArray(s.type)) return s.type.filter((t): t is string => typeof t === 'string');
  return [];
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
