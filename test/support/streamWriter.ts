/**
 * How the fake servers send a streamed reply, and how a test breaks it: written piece by piece (or a few
 * bytes at a time, so that a line, a `\r\n` or a multi-byte character is split across network chunks),
 * with `\r\n` line ends, or cut after some pieces by a clean close, a reset connection or a stall.
 */
import type * as http from 'http';

export interface StreamScript {
  /** Bytes per write (1: one byte at a time). By default each piece (an event, a line) is one write. */
  writeBytes?: number;
  /** Line ends as `\r\n` instead of `\n`. */
  crlf?: boolean;
  /** Send only this many pieces, then cut the stream (see `cut`). */
  cutAfter?: number;
  /** With `cutAfter`: also send the first half of the next piece, so the cut falls inside it. */
  cutInside?: boolean;
  /** How a cut stream ends: `end` closes the reply cleanly, `destroy` resets the connection, `hang` sends nothing more. Default `end`. */
  cut?: 'end' | 'destroy' | 'hang';
  /** Send this many pieces, then wait for `resume` before the rest (a test looks at the reply half-way). */
  pauseAfter?: number;
  resume?: Promise<void>;
  /** Milliseconds between two pieces (a model generating tokens at a pace; the benchmark's). */
  pieceDelayMs?: number;
}

/** Splits a reply's text into the pieces a model would stream (a few characters each, whole code points). */
export function textDeltas(text: string, size = 5): string[] {
  const points = Array.from(text);
  const out: string[] = [];
  for (let i = 0; i < points.length; i += size) out.push(points.slice(i, i + size).join(''));
  return out;
}

/** Writes `pieces` as a 200 streamed reply of `contentType`, as `script` says. */
export async function writeStream(req: http.IncomingMessage, res: http.ServerResponse, contentType: string, pieces: string[], script: StreamScript = {}, headers: Record<string, string> = {}): Promise<void> {
  res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-cache', ...headers });
  res.flushHeaders();
  const lineEnds = (p: string) => (script.crlf ? p.replace(/\n/g, '\r\n') : p);
  let sent = pieces.map(lineEnds);
  const cut = script.cutAfter !== undefined;
  if (cut) {
    const next = sent[script.cutAfter!];
    sent = sent.slice(0, script.cutAfter);
    if (script.cutInside && next) {
      const bytes = Buffer.from(next, 'utf8');
      sent.push(bytes.subarray(0, Math.floor(bytes.length / 2)).toString('latin1'));
    }
  }
  // Pieces cut inside go out as raw bytes (latin1 round-trips them); whole pieces as UTF-8.
  const buffers = sent.map((p, i) => (cut && script.cutInside && i === sent.length - 1 ? Buffer.from(p, 'latin1') : Buffer.from(p, 'utf8')));
  const writes: Buffer[] = [];
  if (script.pauseAfter !== undefined && script.resume) {
    // A pause falls between pieces, so pieces are written whole here.
    for (const [i, b] of buffers.entries()) {
      if (i === script.pauseAfter) await script.resume;
      if (res.destroyed) return;
      await new Promise<void>((resolve) => res.write(b, () => resolve()));
    }
    res.end();
    return;
  }
  if (script.writeBytes) {
    const all = Buffer.concat(buffers);
    for (let i = 0; i < all.length; i += script.writeBytes) writes.push(all.subarray(i, i + script.writeBytes));
  } else {
    writes.push(...buffers);
  }
  for (const w of writes) {
    if (res.destroyed) return;
    await new Promise<void>((resolve) => res.write(w, () => resolve()));
    // One write per turn of the event loop, so that writes are not merged before they leave.
    await new Promise((r) => (script.pieceDelayMs ? setTimeout(r, script.pieceDelayMs) : setImmediate(r)));
  }
  if (!cut || (script.cut ?? 'end') === 'end') res.end();
  else if (script.cut === 'destroy') req.socket.destroy();
}
