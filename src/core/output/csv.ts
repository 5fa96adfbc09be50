import type { JsonSchema } from './kind';

/**
 * How an item schema maps to `results.csv`, when it can: a flat object (one row per chunk), or an object
 * whose one array property holds flat objects (one row per array item; the object's scalar properties
 * are repeated on each of its rows). Columns follow the schema's `properties` order.
 */
export type CsvShape = { kind: 'object'; columns: string[] } | { kind: 'array'; arrayKey: string; columns: string[]; outerColumns: string[] };

/** One chunk's value with where it came from. */
export interface CsvRecord {
  path: string;
  startLine: number;
  endLine: number;
  value: unknown;
}

/** The shape of `schema` for CSV, or undefined when it is not one of the two flat shapes. */
export function csvShape(schema: JsonSchema): CsvShape | undefined {
  const props = objectProperties(schema, schema);
  if (!props) return undefined;
  const scalar = Object.keys(props).filter((k) => isScalar(props[k], schema));
  const arrays = Object.keys(props).filter((k) => !scalar.includes(k));
  if (!arrays.length) return scalar.length ? { kind: 'object', columns: scalar } : undefined;
  if (arrays.length !== 1) return undefined;
  const arraySchema = asSchema(deref(props[arrays[0]], schema));
  if (!arraySchema || !isArraySchema(arraySchema)) return undefined;
  const itemSchema = asSchema(deref(arraySchema.items, schema));
  const inner = itemSchema && objectProperties(itemSchema, schema);
  if (!inner) return undefined;
  const columns = Object.keys(inner);
  if (!columns.length || !columns.every((k) => isScalar(inner[k], schema))) return undefined;
  return { kind: 'array', arrayKey: arrays[0], columns, outerColumns: scalar };
}

/** Names of the location columns written before the schema's own (renamed if the schema uses them). */
const LOCATION_COLUMNS = ['path', 'startLine', 'endLine'] as const;

/**
 * `results.csv` (RFC 4180: CRLF line ends, fields quoted when they hold `"`, `,`, CR or LF, quotes
 * doubled). Each row starts with the chunk's path and lines. A text cell that a spreadsheet would run
 * as a formula (starting with `=`, `+`, `-`, `@`, tab or CR) is prefixed with `'`: values come from a
 * model that read files a repository controls. Values that are not of the shape give empty cells.
 */
export function toCsv(shape: CsvShape, records: readonly CsvRecord[]): string {
  const own = shape.kind === 'array' ? [...shape.outerColumns, ...shape.columns] : shape.columns;
  const location = LOCATION_COLUMNS.map((c) => (own.includes(c) ? `chunk_${c}` : c));
  const rows: unknown[][] = [[...location, ...own]];
  for (const r of records) {
    const where = [r.path, r.startLine, r.endLine];
    const value = isRecord(r.value) ? r.value : {};
    if (shape.kind === 'object') {
      rows.push([...where, ...shape.columns.map((c) => value[c])]);
      continue;
    }
    const outer = shape.outerColumns.map((c) => value[c]);
    const items = Array.isArray(value[shape.arrayKey]) ? (value[shape.arrayKey] as unknown[]) : [];
    for (const item of items) {
      const it = isRecord(item) ? item : {};
      rows.push([...where, ...outer, ...shape.columns.map((c) => it[c])]);
    }
  }
  return rows.map((row) => row.map(csvCell).join(',') + '\r\n').join('');
}

function csvCell(v: unknown): string {
  if (v === undefined || v === null) return '';
  let s = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const SCALAR_TYPES = new Set(['string', 'number', 'integer', 'boolean', 'null']);

function isScalar(prop: unknown, root: JsonSchema): boolean {
  const s = asSchema(deref(prop, root));
  if (!s) return false;
  if (Array.isArray(s.enum)) return s.enum.every((v) => v === null || typeof v !== 'object');
  if ('const' in s) return s.const === null || typeof s.const !== 'object';
  const t = s.type;
  if (typeof t === 'string') return SCALAR_TYPES.has(t);
  if (Array.isArray(t)) return t.length > 0 && t.every((x) => typeof x === 'string' && SCALAR_TYPES.has(x));
  return false;
}

function isArraySchema(s: JsonSchema): boolean {
  return s.type === 'array' || (Array.isArray(s.type) && s.type.includes('array'));
}

/** The `properties` of an object schema, or undefined when it is not one. */
function objectProperties(schema: JsonSchema, root: JsonSchema): Record<string, unknown> | undefined {
  const s = asSchema(deref(schema, root));
  if (!s || (s.type !== undefined && s.type !== 'object')) return undefined;
  return isRecord(s.properties) ? s.properties : undefined;
}

/** Follows a local `$ref` (`#/definitions/x`, `#/$defs/x`, any JSON Pointer into the root), a few hops. */
function deref(node: unknown, root: JsonSchema): unknown {
  let cur = node;
  for (let hops = 0; hops < 8 && isRecord(cur) && typeof cur.$ref === 'string' && cur.$ref.startsWith('#'); hops++) {
    let target: unknown = root;
    for (const raw of cur.$ref.slice(1).split('/').filter(Boolean)) {
      const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
      target = isRecord(target) ? target[key] : undefined;
    }
    cur = target;
  }
  return cur;
}

function asSchema(x: unknown): JsonSchema | undefined {
  return isRecord(x) ? x : undefined;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
