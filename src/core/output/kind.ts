/**
 * Output kinds (#14): what shape a chunk's answer has. `text` is free text (as before); `findings` is
 * the built-in list of problems on lines; `json` is any JSON Schema the user gives; `edit` (#15) is each
 * chunk's editable part rewritten (text, not JSON), joined into a proposed new file.
 * The kind decides the protocol, the check and the record; nothing else branches on it.
 */
export type OutputKind = 'text' | 'findings' | 'json' | 'edit';

export const OUTPUT_KINDS: readonly OutputKind[] = ['text', 'findings', 'json', 'edit'];

export function isOutputKind(x: unknown): x is OutputKind {
  return typeof x === 'string' && (OUTPUT_KINDS as readonly string[]).includes(x);
}

/** A JSON Schema as parsed JSON (draft-07 unless its `$schema` says 2019-09 or 2020-12). */
export type JsonSchema = Record<string, unknown>;

export type Severity = 'error' | 'warning' | 'info' | 'hint';

/** Most severe first. */
export const SEVERITIES: readonly Severity[] = ['error', 'warning', 'info', 'hint'];

/** One finding as the model writes it: absolute, 1-based line numbers in the file. */
export interface Finding {
  line: number;
  /** Inclusive; absent means `line`. */
  endLine?: number;
  /** 1-based. */
  column?: number;
  severity: Severity;
  message: string;
  rule?: string;
  suggestion?: string;
}

/** A chunk's answer in the `findings` kind. */
export interface FindingsValue {
  findings: Finding[];
}

/** A finding placed in the run: the file (workspace-relative, `/`-separated) and the chunk that said it. */
export interface LocatedFinding extends Finding {
  path: string;
  chunkId: string;
}

/** A chunk's findings placed in its file, for the record, the SARIF and the Problems panel. */
export function locateFindings(value: FindingsValue, path: string, chunkId: string): LocatedFinding[] {
  return value.findings.map((f) => ({ ...f, path, chunkId }));
}

/** The built-in item schema of the `findings` kind. */
export const FINDINGS_SCHEMA: JsonSchema = deepFreeze({
  type: 'object',
  additionalProperties: false,
  required: ['findings'],
  properties: {
    findings: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['line', 'severity', 'message'],
        properties: {
          line: { type: 'integer', minimum: 1, description: 'First line of the problem, as numbered in the input.' },
          endLine: { type: 'integer', minimum: 1, description: 'Last line of the problem (inclusive), if it spans several.' },
          column: { type: 'integer', minimum: 1, description: '1-based column where the problem starts, if known.' },
          severity: { type: 'string', enum: [...SEVERITIES] },
          message: { type: 'string', minLength: 1, description: 'What is wrong, in one or two sentences.' },
          rule: { type: 'string', description: 'A short, stable, kebab-case name for the kind of problem.' },
          suggestion: { type: 'string', description: 'How to fix it.' },
        },
      },
    },
  },
});

/**
 * The item schema a run checks each chunk's value against: the built-in one for `findings`, the user's
 * for `json` (required there), none for `text` and `edit`.
 */
export function itemSchemaFor(kind: OutputKind, userSchema?: JsonSchema): JsonSchema | undefined {
  if (kind === 'findings') return FINDINGS_SCHEMA;
  if (kind === 'json') {
    if (!userSchema) throw new Error('The json output kind needs a schema.');
    return userSchema;
  }
  return undefined;
}

/** Keywords that hold local definitions a `$ref` such as `#/definitions/x` points into. */
const DEFINITION_KEYWORDS = ['definitions', '$defs'] as const;

/**
 * The schema of one batch's answer: `{ "results": [ { "id": <one of ids>, "value": <item schema> } ] }`.
 * The item schema's own `definitions`/`$defs` are lifted to the top so that its root-relative `$ref`s
 * (`#/definitions/x`) still resolve once it is nested under `value`; its `$schema` and `$id` are dropped
 * (a nested `$id` would change the base of those refs). This schema is for the wire (a provider's
 * structured-output mode); values are checked one by one with `ItemValidator`. That every id appears
 * exactly once is not expressible here: the protocol checks it.
 */
export function batchAnswerSchema(itemSchema: JsonSchema, ids: readonly string[]): JsonSchema {
  if (!ids.length) throw new Error('A batch has at least one chunk id.');
  const { $schema: _schema, $id: _id, id: legacyId, ...value } = itemSchema;
  void _schema;
  void _id;
  // Draft-04's `id` is only an identifier when it is a string; a property named "id" is not at this level.
  if (legacyId !== undefined && typeof legacyId !== 'string') value.id = legacyId;
  const lifted: JsonSchema = {};
  for (const key of DEFINITION_KEYWORDS) {
    if (value[key] !== undefined) {
      lifted[key] = value[key];
      delete value[key];
    }
  }
  return {
    type: 'object',
    additionalProperties: false,
    required: ['results'],
    properties: {
      results: {
        type: 'array',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['id', 'value'],
          properties: {
            id: { type: 'string', enum: [...new Set(ids)] },
            value,
          },
        },
      },
    },
    ...lifted,
  };
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
