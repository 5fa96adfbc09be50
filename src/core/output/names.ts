/**
 * The names a run folder gives what it writes per input file (#18): never the source's own name, so that
 * no language server, linter, test runner or prompt discovery takes a result for source.
 *
 * - `outputs/<path>.md` (`.json` for a `json` run): the file's answer; `<path>.incomplete.md` while a
 *   chunk of it has not succeeded. An `edit` run's joined parts are code: they sit in a fence of the
 *   source's language, so the Markdown reads as the file.
 * - `proposed/<path>.proposed`: an edit run's whole new file (opened as plain text; `apply` writes it).
 *
 * Run folders written before #18 named them `outputs/<path>` (`<path>.incomplete`) and `proposed/<path>`:
 * the readers accept both (`LEGACY_*`), and a resume or retry rewrites them under the new names.
 */
import * as path from 'path';
import type { OutputSpec } from './spec';

export type OutputStatus = 'complete' | 'incomplete';

/** The extension an output file of a run of `spec` gets after the source's own name. */
export function outputExtension(spec: OutputSpec | undefined): string {
  return spec?.kind === 'json' ? '.json' : '.md';
}

/** `outputs/`-relative name of `p`'s output: `src/a.ts` → `src/a.ts.md` (`src/a.ts.incomplete.md`). */
export function outputNameOf(p: string, spec: OutputSpec | undefined, status: OutputStatus = 'complete'): string {
  return `${p}${status === 'incomplete' ? '.incomplete' : ''}${outputExtension(spec)}`;
}

/** The name a run folder written before #18 gave `p`'s output (`src/a.ts`, `src/a.ts.incomplete`). */
export function legacyOutputNameOf(p: string, status: OutputStatus = 'complete'): string {
  return `${p}${status === 'incomplete' ? '.incomplete' : ''}`;
}

export const PROPOSED_SUFFIX = '.proposed';

/** `proposed/`-relative name of `p`'s proposal: `src/a.ts` → `src/a.ts.proposed`. */
export function proposedNameOf(p: string): string {
  return `${p}${PROPOSED_SUFFIX}`;
}

/** Fence languages by extension where the extension is not itself the language's name. */
const FENCE_LANGUAGES: Record<string, string> = {
  ts: 'ts', tsx: 'tsx', mts: 'ts', cts: 'ts', js: 'js', jsx: 'jsx', mjs: 'js', cjs: 'js', py: 'python', rb: 'ruby', rs: 'rust',
  kt: 'kotlin', kts: 'kotlin', cs: 'csharp', sh: 'bash', bash: 'bash', zsh: 'bash', yml: 'yaml', md: 'markdown', h: 'c', hpp: 'cpp',
  cc: 'cpp', cxx: 'cpp', ps1: 'powershell', psm1: 'powershell',
};

/** The Markdown fence language of a source path (`src/a.ts` → `ts`); empty when there is none to name. */
export function fenceLanguageOf(p: string): string {
  const ext = path.posix.extname(p).slice(1).toLowerCase();
  if (!/^[a-z0-9+#-]{1,15}$/.test(ext)) return '';
  return FENCE_LANGUAGES[ext] ?? ext;
}

/**
 * `text` in a Markdown code fence of `p`'s language, the fence longer than any run of backticks in it
 * (CommonMark), so the text reads back whole.
 */
export function fenced(p: string, text: string): string {
  let longest = 0;
  for (const m of text.matchAll(/`+/g)) longest = Math.max(longest, m[0].length);
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}${fenceLanguageOf(p)}\n${text}${text.endsWith('\n') || !text ? '' : '\n'}${fence}\n`;
}
