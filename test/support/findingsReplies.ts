// A model server script that answers findings (#14): every chunk line holding `marker` gets a finding
// on that line (absolute line numbers, as the findings kind asks). It answers in the tagged protocol
// (`<result id="ID">{"findings":[…]}</result>`), or, when the request asks for a structured reply
// (`response_format`), as the batch's `{"results":[{"id","value"}]}` object.
import type { Behaviour, RequestChunk, ServedRequest } from './modelServer';

export interface MarkedFinding {
  line: number;
  severity: 'error' | 'warning' | 'info' | 'hint';
  message: string;
  rule: string;
  suggestion: string;
}

/** The chunk's lines with their absolute numbers: a numbered line (`cat -n`'s "   12\t…") by its number, else counted from `lines`. */
export function numberedLines(chunk: RequestChunk): { line: number; text: string }[] {
  const first = Number(chunk.lines.split('-')[0]) || 1;
  return chunk.text.split('\n').map((raw, i) => {
    const m = /^\s*(\d+)\t(.*)$/.exec(raw);
    return m ? { line: Number(m[1]), text: m[2] } : { line: first + i, text: raw };
  });
}

/** A finding per line holding `marker`: an error for `BUG`, a warning for anything else. */
export function findingsOf(chunk: RequestChunk, marker = 'BUG'): MarkedFinding[] {
  return numberedLines(chunk)
    .filter((l) => l.text.includes(marker))
    .map((l) => ({ line: l.line, severity: 'error', message: `Planted bug on line ${l.line}.`, rule: 'planted-bug', suggestion: 'Remove the marker.' }));
}

/** The reply to a findings request, in whichever form it asked for. */
export function findingsReply(req: ServedRequest, marker = 'BUG'): Behaviour {
  const values = req.chunks.map((c) => ({ id: c.id, value: { findings: findingsOf(c, marker) } }));
  if (req.body.response_format) return { kind: 'ok', reply: JSON.stringify({ results: values }) };
  return { kind: 'ok', reply: values.map((v) => `<result id="${v.id}">${JSON.stringify(v.value)}</result>`).join('\n') };
}
