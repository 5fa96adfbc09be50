/**
 * The fake model of the reduce tests (#16): its combine answer lists the input ids it was given. A
 * level-0 input (`<input id="F3" path=…>`) is listed by its id; a partial answer (`<input id="R1.2"
 * kind="partial">`, or a piece of one) by the ids its own text lists. So a final answer that lists
 * every successful file's id once proves that each reached it exactly once.
 */
import type { ChatRequest } from '../../src/core/execute/model';

const INPUT_RE = /<input id="([^"]*)"([^>]*)>\n([\s\S]*?)\n<\/input>/g;

/** The group id of a reduce request (`<inputs id="R1.2">`), or undefined for a map request. */
export function groupIdOf(content: string): string | undefined {
  return /<inputs id="([^"]*)">/.exec(content)?.[1];
}

/** The ids a reduce request's inputs stand for, in order (a partial's own list; a piece of one lists what its text holds). */
export function listedIds(content: string): string[] {
  const out: string[] = [];
  for (const m of content.matchAll(INPUT_RE)) {
    if (m[2].includes('kind="partial"')) out.push(...idsInAnswer(m[3]));
    else out.push(m[1]);
  }
  return out;
}

/** The ids an answer lists: its `ids:` lines. */
export function idsInAnswer(text: string): string[] {
  return [...text.matchAll(/^ids: (.*)$/gm)].flatMap((m) => m[1].split(' ').filter(Boolean));
}

/** The user messages of a request (the instructions quote the wrappers too). */
export function userText(request: ChatRequest): string {
  return request.messages.filter((m) => m.role === 'user').map((m) => m.content).join('\n');
}

/** The combine answer of a reduce request: `<result id="GROUP">ids: …</result>`. */
export function combineReply(request: ChatRequest): string {
  const content = userText(request);
  const id = groupIdOf(content) ?? 'none';
  return `<result id="${id}">\nids: ${listedIds(content).join(' ')}\n</result>`;
}
