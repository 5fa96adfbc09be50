import Ajv, { type ErrorObject } from 'ajv';
import Ajv2019 from 'ajv/dist/2019';
import Ajv2020 from 'ajv/dist/2020';
import type { JsonSchema } from './kind';

/** The JSON Schema dialect a schema declares by its `$schema` (draft-07 when it declares none). */
export type Dialect = 'draft-07' | '2019-09' | '2020-12' | 'unsupported';

export function dialectOf(schema: JsonSchema): Dialect {
  const s = schema.$schema;
  if (s === undefined) return 'draft-07';
  if (typeof s !== 'string') return 'unsupported';
  if (/draft-0[67]\/schema/.test(s)) return 'draft-07';
  if (s.includes('2019-09')) return '2019-09';
  if (s.includes('2020-12')) return '2020-12';
  return 'unsupported';
}

/**
 * A fresh ajv instance for the schema's dialect. Not strict: users' schemas carry keywords and formats
 * ajv does not know (`examples` is known; `x-foo`, `format: date-time` without ajv-formats are not),
 * and those should be ignored, not refused. Nothing is logged (the core has no console).
 */
export function newAjv(dialect: Exclude<Dialect, 'unsupported'>): Ajv {
  const options = { strict: false, allErrors: false, logger: false as const };
  if (dialect === '2019-09') return new Ajv2019(options);
  if (dialect === '2020-12') return new Ajv2020(options);
  return new Ajv(options);
}

/**
 * One ajv error as a short line: where (a JSON Pointer, `/` for the whole value) and what, with the
 * detail ajv keeps in `params` (the allowed values, the unexpected property).
 */
export function describeAjvError(e: ErrorObject): string {
  const where = e.instancePath || '/';
  let what = e.message ?? 'is invalid';
  const p = e.params as Record<string, unknown>;
  if (e.keyword === 'enum' && Array.isArray(p.allowedValues)) what += `: ${p.allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  if (e.keyword === 'additionalProperties' && typeof p.additionalProperty === 'string') what += ` (${JSON.stringify(p.additionalProperty)})`;
  if (e.keyword === 'const' && 'allowedValue' in p) what += `: ${JSON.stringify(p.allowedValue)}`;
  return `${where}: ${what}`;
}
