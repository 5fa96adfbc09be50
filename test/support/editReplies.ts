// Edit runs (#15) against the fake servers: the editable part of a chunk as the protocol sends it, and a
// reply that answers each chunk of a request with its part rewritten (the `<result id>` format of
// core/plan/protocol.ts). Light on purpose: the integration and UI bundles import it.
import type { RequestChunk, ServedRequest } from './modelServer';

/** The part to rewrite of a chunk's body as sent: between `<edit lines="…">\n` and its `</edit>`. */
export function editPart(body: string): string {
  const open = /<edit lines="(\d+)-(\d+)">\n/.exec(body);
  if (!open) throw new Error(`no <edit> block in ${JSON.stringify(body.slice(0, 200))}`);
  const from = open.index + open[0].length;
  const ctx = body.indexOf('\n<context lines="', from);
  return body.slice(from, body.lastIndexOf('</edit>', ctx === -1 ? body.length : ctx));
}

/** A rewrite that adds a doc comment line above each `export function NAME`. */
export function addDocComments(part: string): string {
  return part.replace(/^export function (\w+)/gm, '/** $1: documented by the model. */\nexport function $1');
}

/** The reply to a request of an edit run: each chunk's part through `rewrite`, in a closed result block. */
export function editReply(req: Pick<ServedRequest, 'chunks'>, rewrite: (part: string, chunk: RequestChunk) => string = addDocComments): string {
  return req.chunks.map((c) => `<result id="${c.id}">\n${rewrite(editPart(c.text), c)}\n</result>`).join('\n');
}
