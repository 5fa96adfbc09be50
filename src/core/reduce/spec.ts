/**
 * Which combining prompt a reduce uses (#16), the rules both front ends share: a prompt file's
 * `reduce:` (the prompt itself) or `reduceFile:` (a prompt file relative to it, whose body is the prompt
 * and whose `output: json` with its schema makes the answer `answer.json`), or a combining prompt file
 * picked or named directly. An empty prompt, a file that cannot be read, a front matter with a problem,
 * a `findings` or `edit` output, or a schema that cannot be used is refused (`ReduceSpecError`, naming
 * the file) before anything is sent. Reading goes through the caller's `read` (the editor's confining
 * reader; the CLI's file system), and a file outside `within` is refused before it is read.
 */
import * as path from 'path';
import { parsePromptFile, type PromptFile } from '../input/promptFile';
import { loadItemSchema, SchemaError, type ReadText } from '../output/schemaFile';
import type { OutputSpec } from '../output/spec';
import { isOutside } from '../store/pathGuard';

/** The combining prompt and its output (`json` from a reduce file's front matter; text when absent). */
export interface ReduceSpec {
  prompt: string;
  output?: OutputSpec;
}

/** A combining prompt that cannot be used; the message names where it comes from. */
export class ReduceSpecError extends Error {
  override readonly name = 'ReduceSpecError';
  static is(e: unknown): e is ReduceSpecError {
    return e instanceof ReduceSpecError;
  }
}

/** A combining prompt given as text (`where` names it in the refusal). */
export function reduceSpecOfText(prompt: string, where: string): ReduceSpec {
  if (!prompt.trim()) throw new ReduceSpecError(`The reduce prompt (${where}) is empty.`);
  return { prompt };
}

/**
 * The combining prompt of a reduce file's text (`file` absolute, `shown` as the user named it): its body,
 * with `output: json` and its schema (read through `read`, inside `within`).
 */
export async function reduceSpecOfFile(text: string, file: string, shown: string, read: ReadText, within: string): Promise<ReduceSpec> {
  const parsed = parsePromptFile(text);
  if (parsed.problem) throw new ReduceSpecError(`The reduce file ${shown}: ${parsed.problem}`);
  if (parsed.output === 'findings' || parsed.output === 'edit') throw new ReduceSpecError(`The reduce file ${shown}: a reduce answers in text or json, not ${parsed.output}.`);
  const spec = reduceSpecOfText(parsed.body, `the reduce file ${shown}`);
  if (parsed.output !== 'json' || !parsed.schema) return spec;
  try {
    return { ...spec, output: { kind: 'json', schema: await loadItemSchema(parsed.schema, file, read, within) } };
  } catch (e) {
    if (SchemaError.is(e)) throw new ReduceSpecError(e.message);
    throw e;
  }
}

/**
 * The reduce a run prompt file asks for in its front matter (`file` absolute): `reduce:` as it is, or
 * the `reduceFile:` it names (relative to `file`, inside `within`), read through `read`; undefined when
 * it asks for none.
 */
export async function reduceSpecOfFront(front: Pick<PromptFile, 'reduce' | 'reduceFile'>, file: string, shown: string, read: ReadText, within: string): Promise<ReduceSpec | undefined> {
  if (front.reduce !== undefined) return reduceSpecOfText(front.reduce, `"reduce:" of ${shown}`);
  if (front.reduceFile === undefined) return undefined;
  const target = path.resolve(path.dirname(file), front.reduceFile);
  if (isOutside(path.relative(path.resolve(within), target))) throw new ReduceSpecError(`"reduceFile: ${front.reduceFile}" of ${shown} is outside the folder ${within}; it is not read.`);
  let text: string;
  try {
    text = await read(target);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ReduceSpecError(`Cannot read the reduce file ${front.reduceFile} (of ${shown}): ${code === 'ENOENT' || code === 'FileNotFound' ? 'it does not exist' : e instanceof Error ? e.message : String(e)}.`);
  }
  return reduceSpecOfFile(text, target, front.reduceFile, read, within);
}
