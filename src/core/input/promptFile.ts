/** A prompt file in Copilot's `*.prompt.md` format: optional YAML front matter, then the prompt. */
export interface PromptFile {
  body: string;
  description?: string;
  /** The model the file asks for (preselected in the picker). */
  model?: string;
}

/**
 * Reads the front matter's simple `key: value` lines (`description`, `model`; others ignored) and
 * returns the rest as the prompt. Quotes around values are removed. No front matter: all is prompt.
 */
export function parsePromptFile(text: string): PromptFile {
  const src = text.replace(/^\uFEFF/, '');
  const m = /^---\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)/.exec(src);
  if (!m) return { body: src.trim() };
  const out: PromptFile = { body: src.slice(m[0].length).trim() };
  for (const line of m[1].split(/\r?\n/)) {
    const kv = /^([A-Za-z][\w-]*)\s*:\s*(.*)$/.exec(line);
    if (!kv) continue;
    const value = kv[2].trim().replace(/^(['"])(.*)\1$/, '$2');
    if (kv[1] === 'description' && value) out.description = value;
    if (kv[1] === 'model' && value) out.model = value;
  }
  return out;
}
