import * as path from 'path';
import type { SchemaRef } from '../input/promptFile';
import { describeAjvError, dialectOf, newAjv } from './ajv';
import type { JsonSchema } from './kind';

/** A schema (file or inline) that cannot be used; the message names the file and where the error is. */
export class SchemaError extends Error {
  override readonly name = 'SchemaError';
  static is(e: unknown): e is SchemaError {
    return e instanceof SchemaError;
  }
}

/** Reads a file's text; rejects when it cannot (the error's message is quoted). */
export type ReadText = (absolutePath: string) => Promise<string>;

/**
 * The item schema a prompt file's `schema:` names, read and checked before any request: a path is
 * resolved against the prompt file's folder, parsed as JSON, and checked against its dialect's
 * meta-schema (ajv `validateSchema`) and compiled (unresolvable `$ref`s). Throws `SchemaError`.
 *
 * `within` (the workspace folder): a path that leads outside it is refused before it is read. A prompt
 * file can come from a cloned repository, and a schema is sent to the model's endpoint: without this,
 * `schema: ../../.config/some-credentials.json` would send any JSON object on disk (unknown keywords
 * are legal JSON Schema). The check is by spelling; a symbolic link inside `within` is the reader's to
 * refuse.
 */
export async function loadItemSchema(ref: SchemaRef, promptFilePath: string, read: ReadText, within?: string): Promise<JsonSchema> {
  if ('inline' in ref) {
    checkSchema(ref.inline, `the inline schema in ${promptFilePath}`);
    return ref.inline;
  }
  const file = path.resolve(path.dirname(promptFilePath), ref.path);
  if (within !== undefined) {
    const rel = path.relative(path.resolve(within), file);
    if (rel === '' || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) {
      throw new SchemaError(`Schema ${JSON.stringify(ref.path)} in ${promptFilePath} is outside the workspace folder ${within}: a schema file must be inside it.`);
    }
  }
  let text: string;
  try {
    text = await read(file);
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    const why = code === 'ENOENT' || code === 'FileNotFound' ? 'the file does not exist' : e instanceof Error ? e.message : String(e);
    throw new SchemaError(`Schema ${file} cannot be read: ${why}.`);
  }
  return parseSchemaText(text, file);
}

/** Parses and checks a schema file's text (see `loadItemSchema`); `name` names it in errors. */
export function parseSchemaText(text: string, name: string): JsonSchema {
  let schema: unknown;
  try {
    schema = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    const where = jsonErrorLocation(text, e);
    const why = e instanceof Error ? e.message : String(e);
    // With the line and column given, V8's "in JSON at position N (line L column C)" says it twice.
    throw new SchemaError(`Schema ${name} is not valid JSON${where}: ${where ? why.replace(/\s+in JSON at position \d+.*$/, '') : why}.`);
  }
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    throw new SchemaError(`Schema ${name} is not a JSON Schema: its top level must be an object.`);
  }
  checkSchema(schema as JsonSchema, name);
  return schema as JsonSchema;
}

/** Throws `SchemaError` unless `schema` is a valid JSON Schema of a dialect ajv handles, and compiles. */
export function checkSchema(schema: JsonSchema, name: string): void {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    throw new SchemaError(`Schema ${name} is not a JSON Schema: it must be an object.`);
  }
  const dialect = dialectOf(schema);
  if (dialect === 'unsupported') {
    throw new SchemaError(`Schema ${name} declares "$schema": ${JSON.stringify(schema.$schema)}, which is not supported: use draft-07, 2019-09 or 2020-12 (or leave "$schema" out).`);
  }
  const ajv = newAjv(dialect);
  if (!ajv.validateSchema(schema)) {
    const first = ajv.errors?.[0];
    const where = first ? describeAjvError(first).replace(/^\/: /, '(top level): ') : 'unknown location';
    throw new SchemaError(`Schema ${name} is not a valid JSON Schema (${dialect}) at ${where}.`);
  }
  try {
    ajv.compile(schema);
  } catch (e) {
    throw new SchemaError(`Schema ${name} cannot be used: ${e instanceof Error ? e.message : String(e)}.`);
  }
}

/** " at line L, column C" from a JSON.parse error's "position N", when Node gives one. */
function jsonErrorLocation(text: string, e: unknown): string {
  const m = /position (\d+)/.exec(e instanceof Error ? e.message : '');
  if (!m) return '';
  const before = text.replace(/^\uFEFF/, '').slice(0, Number(m[1]));
  const lines = before.split('\n');
  return ` at line ${lines.length}, column ${lines[lines.length - 1].length + 1}`;
}
