import type { ValidateFunction } from 'ajv';
import { describeAjvError, dialectOf, newAjv } from './ajv';
import { FINDINGS_SCHEMA, type Finding, type FindingsValue, type JsonSchema, type LocatedFinding } from './kind';

/** A chunk's lines in its file: 1-based, inclusive. */
export interface LineRange {
  startLine: number;
  endLine: number;
}

/**
 * Checks chunk values against one item schema, compiled once. `check` returns undefined for a valid
 * value, else the first error as one short line (`/findings/0/severity: must be equal to one of the
 * allowed values: "error", …`), fit to quote in the repair prompt and to name in a failure's reason.
 */
export class ItemValidator {
  private readonly validateFn: ValidateFunction;

  /**
   * `findings`: the value must also cite only lines of its chunk (when `check` is given the range).
   * Throws if the schema does not compile: check a user's schema first (schemaFile's `checkSchema`).
   */
  constructor(
    readonly schema: JsonSchema,
    private readonly findings: boolean,
  ) {
    const dialect = dialectOf(schema);
    this.validateFn = newAjv(dialect === 'unsupported' ? 'draft-07' : dialect).compile(schema);
  }

  /** The validator of the `findings` kind. */
  static forFindings(): ItemValidator {
    return new ItemValidator(FINDINGS_SCHEMA, true);
  }

  /** The validator of the `json` kind for the user's (already checked) schema. */
  static forJson(schema: JsonSchema): ItemValidator {
    return new ItemValidator(schema, false);
  }

  check(value: unknown, range?: LineRange): string | undefined {
    if (!this.validateFn(value)) {
      const first = this.validateFn.errors?.[0];
      return first ? describeAjvError(first) : '/: does not match the schema';
    }
    if (this.findings && range) return checkFindingLines((value as FindingsValue).findings, range);
    return undefined;
  }
}

/** The first finding whose lines are not within the chunk's, as a short line; undefined if none. */
export function checkFindingLines(findings: readonly Finding[], range: LineRange): string | undefined {
  const lines = `lines ${range.startLine}–${range.endLine}`;
  for (const [i, f] of findings.entries()) {
    if (f.line < range.startLine || f.line > range.endLine) return `/findings/${i}/line: ${f.line} is outside this chunk's ${lines}`;
    if (f.endLine === undefined) continue;
    if (f.endLine < f.line) return `/findings/${i}/endLine: ${f.endLine} is before line ${f.line}`;
    if (f.endLine > range.endLine) return `/findings/${i}/endLine: ${f.endLine} is outside this chunk's ${lines}`;
  }
  return undefined;
}

/**
 * Keeps each finding once where neighbouring chunks overlap: a finding is dropped when one already kept,
 * from another chunk, has the same path and line range and the same rule (both have one) or the same
 * message (case and spacing aside). Findings of one chunk are never merged with each other: two
 * problems of one rule on one line are two findings. Order is kept.
 */
export function dedupeFindings<T extends LocatedFinding>(findings: readonly T[]): T[] {
  const kept: T[] = [];
  const byPlace = new Map<string, T[]>();
  for (const f of findings) {
    const place = JSON.stringify([f.path, f.line, f.endLine ?? f.line]);
    const here = byPlace.get(place) ?? [];
    const duplicate = here.some((k) => k.chunkId !== f.chunkId && ((!!k.rule && k.rule === f.rule) || normaliseMessage(k.message) === normaliseMessage(f.message)));
    if (duplicate) continue;
    here.push(f);
    byPlace.set(place, here);
    kept.push(f);
  }
  return kept;
}

/** A message compared or hashed without case, surrounding space or runs of whitespace. */
export function normaliseMessage(message: string): string {
  return message.trim().replace(/\s+/g, ' ').toLowerCase();
}
