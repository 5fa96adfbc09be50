import { createHash } from 'crypto';
import { itemSchemaFor, type JsonSchema, type OutputKind } from './kind';
import { ItemValidator } from './validate';

/**
 * A run's output kind with what it needs (#14): the `json` kind's item schema. Recorded in run.json as
 * `output` (absent: `text`, as runs made before #14), so a resume, a retry and a batch job's collect
 * answer and check as the run did.
 */
export interface OutputSpec {
  kind: OutputKind;
  /** The `json` kind's item schema (already checked with `checkSchema`); absent for the other kinds. */
  schema?: JsonSchema;
}

export const TEXT_OUTPUT: OutputSpec = Object.freeze({ kind: 'text' as const });

/** True for kinds whose chunk answers are JSON values checked against an item schema (not `text`, not `edit`). */
export function isStructured(spec: OutputSpec | undefined): boolean {
  return !!spec && (spec.kind === 'findings' || spec.kind === 'json');
}

/** True for the `edit` kind (#15): each chunk's editable part comes back rewritten. */
export function isEdit(spec: OutputSpec | undefined): boolean {
  return spec?.kind === 'edit';
}

/** True when run.json records the spec (every kind but `text`, so runs made before #14 read as they were). */
export function isRecorded(spec: OutputSpec | undefined): spec is OutputSpec {
  return !!spec && spec.kind !== 'text';
}

/** The item schema every chunk value is checked against (undefined for `text` and `edit`). */
export function itemSchemaOf(spec: OutputSpec): JsonSchema | undefined {
  return itemSchemaFor(spec.kind, spec.schema);
}

/** The validator of a structured spec (compiled once per run); undefined for `text`. */
export function validatorOf(spec: OutputSpec): ItemValidator | undefined {
  if (spec.kind === 'findings') return ItemValidator.forFindings();
  if (spec.kind === 'json') return ItemValidator.forJson(itemSchemaOf(spec)!);
  return undefined;
}

/**
 * What the result cache keys on besides prompt, model and text: the kind and the sha256 of its item
 * schema (canonical JSON: keys sorted). Undefined for `text`, so that text results cached before #14
 * are still found. `edit` has no schema: its hash is ''.
 */
export function outputKeyOf(spec: OutputSpec | undefined): { kind: OutputKind; schemaHash: string } | undefined {
  if (!spec || spec.kind === 'text') return undefined;
  if (spec.kind === 'edit') return { kind: 'edit', schemaHash: '' };
  return { kind: spec.kind, schemaHash: createHash('sha256').update(canonicalJson(itemSchemaOf(spec))).digest('hex') };
}

/** JSON with object keys sorted at every level (a stable text to hash). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const sorted: Record<string, unknown> = {};
      for (const k of Object.keys(v as object).sort()) sorted[k] = (v as Record<string, unknown>)[k];
      return sorted;
    }
    return v;
  });
}

/**
 * One checked value of a structured chunk, placed on the lines it answers. A chunk's recorded output
 * (`chunks/ID.out`, `run.jsonl`'s output, the cache) in a structured kind is the JSON text of a list
 * of these: one entry normally, one per part when the chunk had to be split to fit the model.
 */
export interface StructuredEntry {
  startLine: number;
  endLine: number;
  value: unknown;
}

/** The recorded output of a structured chunk. */
export function encodeEntries(entries: readonly StructuredEntry[]): string {
  return JSON.stringify(entries);
}

/**
 * The entries of a structured chunk's recorded output. Throws when the text is not such a list (a run
 * folder is untrusted input: the caller names the file).
 */
export function decodeEntries(output: string): StructuredEntry[] {
  const parsed: unknown = JSON.parse(output);
  if (!Array.isArray(parsed)) throw new Error('a structured output must be a JSON list of entries');
  for (const e of parsed) {
    const x = e as Partial<StructuredEntry> | null;
    if (!x || typeof x !== 'object' || !Number.isInteger(x.startLine) || !Number.isInteger(x.endLine) || !('value' in x)) {
      throw new Error('each entry of a structured output needs integer startLine, endLine and a value');
    }
  }
  return parsed as StructuredEntry[];
}
