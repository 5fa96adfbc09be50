import { parse as parseYaml, YAMLParseError } from 'yaml';
import { isOutputKind, OUTPUT_KINDS, type JsonSchema, type OutputKind } from '../output/kind';

/** Where a prompt file's `schema:` is: a path relative to the prompt file, or the schema itself. */
export type SchemaRef = { path: string } | { inline: JsonSchema };

/** A prompt file in Copilot's `*.prompt.md` format: optional YAML front matter, then the prompt. */
export interface PromptFile {
  body: string;
  description?: string;
  /** The model the file asks for (preselected in the picker). */
  model?: string;
  /** `output:` (#14); absent means `text`, or `json` when only `schema:` is given. */
  output?: OutputKind;
  /** `schema:` (#14), not yet read: `loadItemSchema` (core/output/schemaFile) reads and checks it. */
  schema?: SchemaRef;
  /** `reduce:` (#16): the prompt that combines every file's result into one answer. */
  reduce?: string;
  /** `reduceFile:` (#16): a prompt file (relative to this one) holding that prompt, with its own `output: json` and schema if any. */
  reduceFile?: string;
  /**
   * Why the front matter cannot be used as written (bad YAML, an unknown `output:`, a `schema:` that is
   * neither a path nor an object). Parsing never throws, so that one bad file does not hide the others
   * in a picker; a run from a file with a problem must be refused with this message.
   */
  problem?: string;
}

/**
 * Parses the front matter with a YAML parser and returns the rest as the prompt. Reads `description`,
 * `model`, `output` and `schema`; other keys (Copilot's `mode`, `tools`, …) are ignored. No front
 * matter: all is prompt.
 */
export function parsePromptFile(text: string): PromptFile {
  const src = text.replace(/^\uFEFF/, '');
  const m = /^---\r?\n(?:([\s\S]*?)\r?\n)?---[ \t]*(?:\r?\n|$)/.exec(src);
  if (!m) return { body: src.trim() };
  const out: PromptFile = { body: src.slice(m[0].length).trim() };
  let data: unknown;
  try {
    data = parseYaml(m[1] ?? '');
  } catch (e) {
    // YAMLParseError's own message quotes the line; keep its first line and the position.
    const where = e instanceof YAMLParseError && e.linePos ? ` (front matter line ${e.linePos[0].line}, column ${e.linePos[0].col})` : '';
    out.problem = `The front matter is not valid YAML${where}: ${firstLine(e instanceof Error ? e.message : String(e))}`;
    return out;
  }
  if (data === null || data === undefined) return out;
  if (typeof data !== 'object' || Array.isArray(data)) {
    out.problem = 'The front matter is not a set of `key: value` lines.';
    return out;
  }
  const fm = data as Record<string, unknown>;
  const description = scalarText(fm.description);
  if (description) out.description = description;
  const model = scalarText(fm.model);
  if (model) out.model = model;
  readOutput(fm, out);
  readReduce(fm, out);
  return out;
}

function readReduce(fm: Record<string, unknown>, out: PromptFile): void {
  const problems: string[] = [];
  for (const key of ['reduce', 'reduceFile'] as const) {
    const v = fm[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string' || !v.trim()) problems.push(`\`${key}:\` must be ${key === 'reduce' ? 'the combining prompt (text)' : 'a path to a prompt file, relative to this one'}, and not empty.`);
    else out[key] = key === 'reduce' ? v : v.trim();
  }
  if (out.reduce !== undefined && out.reduceFile !== undefined) problems.push('Give `reduce:` or `reduceFile:`, not both.');
  if (problems.length) out.problem = [out.problem, ...problems].filter(Boolean).join(' ');
}

function readOutput(fm: Record<string, unknown>, out: PromptFile): void {
  const problems: string[] = [];
  if (fm.output !== undefined && fm.output !== null) {
    if (isOutputKind(fm.output)) out.output = fm.output;
    else problems.push(`\`output: ${String(fm.output)}\` is not an output kind (${OUTPUT_KINDS.join(', ')}).`);
  }
  const schema = fm.schema;
  if (schema !== undefined && schema !== null) {
    if (typeof schema === 'string' && schema.trim()) out.schema = { path: schema.trim() };
    else if (typeof schema === 'object' && !Array.isArray(schema)) out.schema = { inline: schema as JsonSchema };
    else problems.push('`schema:` must be a path to a JSON Schema file (relative to the prompt file) or an inline schema object.');
  }
  if (out.schema && out.output === undefined && fm.output === undefined) out.output = 'json';
  if (out.output === 'json' && !out.schema) problems.push('`output: json` needs a `schema:` (a path to a JSON Schema file, or an inline schema).');
  if (out.schema && out.output && out.output !== 'json') problems.push(`\`schema:\` applies to \`output: json\` only, not to \`output: ${out.output}\`.`);
  if (problems.length) out.problem = problems.join(' ');
}

/** A string, number or boolean value as text (`model: 4` is still a name); anything else is ignored. */
function scalarText(v: unknown): string | undefined {
  if (typeof v === 'string') return v.trim() || undefined;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

function firstLine(s: string): string {
  return s.split(/\r?\n/)[0].trim();
}
