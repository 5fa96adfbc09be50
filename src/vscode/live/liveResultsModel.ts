import type { ChunkOutcome, RunEvent } from '../../core/execute/events';
import type { ChunkRef } from '../../core/plan/types';
import { lineRange } from '../../util/format';

/**
 * The live results document's data, with no `vscode` import (unit-tested in plain Node): each chunk of
 * a run with the reply text streamed for it so far, then its recorded outcome. A streamed reply is the
 * protocol's `<result id="…">…</result>` blocks of a whole batch; it is cut per chunk as it arrives.
 * What is shown live is only a preview: a retried batch starts again from nothing, and a chunk's final
 * text is its recorded output (the run folder holds the same).
 */

/** `batchPrompt.stream`: stream when the run is small (`auto`), always, or never. */
export type StreamMode = 'auto' | 'always' | 'never';
export const STREAM_MODES: readonly StreamMode[] = ['auto', 'always', 'never'];

/**
 * In `auto` mode, runs of at most this many requests stream. A handful of requests is a run someone
 * watches; beyond that, a live document of dozens of sections is noise and the run is about throughput.
 */
export const STREAM_AUTO_MAX_REQUESTS = 8;

/** Whether a run of `requests` requests streams its replies. */
export function shouldStream(mode: StreamMode, requests: number): boolean {
  return mode === 'always' || (mode === 'auto' && requests <= STREAM_AUTO_MAX_REQUESTS);
}

/** A tab name from a run's title: no path separators or characters a file name cannot hold, at most 80 characters. */
export function fileNameOf(title: string): string {
  const name = title.replace(/[\\/:*?"<>|\u0000-\u001f]+/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 80).trim();
  return name || 'live results';
}

type LiveStatus = 'waiting' | 'streaming' | 'retrying' | 'succeeded' | 'failed' | 'canceled';

interface LiveChunk {
  ref: ChunkRef;
  status: LiveStatus;
  text: string;
  attempt: number;
  note?: string;
}

const OPENER = /<result\s+id\s*=\s*"([^"]*)"\s*>\r?\n?/g;
const CLOSER = '</result>';

export class LiveResultsModel {
  private readonly chunks = new Map<string, LiveChunk>();
  /** Streamed text so far of each request in flight, by batch id. */
  private readonly replies = new Map<string, string>();
  private finished = false;
  /** What the current pass is when it is not the run itself ("retry of 1 chunk"). */
  private pass?: string;

  constructor(
    readonly title: string,
    chunks: readonly ChunkRef[],
    /** How a chunk's recorded output is shown (a structured kind's entries made readable); as it is by default. */
    private readonly format: (chunk: ChunkRef, output: string) => string = (_c, output) => output,
  ) {
    for (const ref of chunks) this.chunks.set(ref.id, { ref, status: 'waiting', text: '', attempt: 0 });
  }

  /**
   * A retry or resume of the same run streams into this model: its chunks wait again (an entry that
   * said "failed · HTTP 500" is replaced by what the new pass brings), the others keep what they show.
   */
  restart(chunks: readonly ChunkRef[], pass: string): void {
    this.finished = false;
    this.pass = pass;
    this.replies.clear();
    for (const ref of chunks) {
      const c = this.chunks.get(ref.id);
      if (c) Object.assign(c, { status: 'waiting', text: '', attempt: 0, note: undefined });
      else this.chunks.set(ref.id, { ref, status: 'waiting', text: '', attempt: 0 });
    }
  }

  /** Follows the run's progress: a batch (re)starting clears what its previous attempt streamed. */
  applyEvent(e: RunEvent): void {
    if (e.type === 'batch-started') {
      this.replies.set(e.batchId, '');
      for (const c of this.known(e.chunkIds)) {
        c.status = 'streaming';
        c.text = '';
        c.attempt = e.attempt;
        c.note = undefined;
      }
    } else if (e.type === 'batch-finished') {
      this.replies.delete(e.batchId);
      if (!e.ok) {
        for (const c of this.known(e.chunkIds)) {
          c.status = 'retrying';
          c.note = `attempt ${c.attempt} ended: ${e.error?.kind ?? 'error'}`;
        }
      }
    } else if (e.type === 'chunk-finished') {
      this.applyOutcome(e.outcome);
    } else if (e.type === 'run-finished') {
      this.finished = true;
    }
  }

  /** A piece of a batch's streamed reply. */
  applyText(batchId: string, chunkIds: readonly string[], delta: string): void {
    const reply = (this.replies.get(batchId) ?? '') + delta;
    this.replies.set(batchId, reply);
    const live = this.known(chunkIds).filter((c) => c.status === 'streaming');
    if (live.length === 0) return;
    const sections = splitReply(reply);
    if (sections.size === 0 && chunkIds.length === 1) {
      // A one-chunk reply may come without tags: show it as it is, unless it is starting a tag.
      const t = reply.trimStart();
      if (!(t === '' || ('<result'.startsWith(t.slice(0, 7)) && !t.includes('>')))) live[0].text = reply;
      return;
    }
    for (const c of live) {
      const s = sections.get(c.ref.id);
      if (s !== undefined) c.text = s;
    }
  }

  /** A chunk's recorded outcome (from the model or the cache): its final text. */
  applyOutcome(o: ChunkOutcome): void {
    const c = this.chunks.get(o.chunk.id);
    if (!c) return;
    c.status = o.status;
    c.text = o.status === 'succeeded' ? this.format(o.chunk, o.output ?? '') : c.text;
    // "canceled: Canceled" says nothing the state does not; a reason that adds something (budget) is kept.
    c.note = o.cached ? 'from the cache' : o.error ? (o.error.message.toLowerCase() === o.error.kind.toLowerCase() ? undefined : `${o.error.kind}: ${o.error.message}`) : undefined;
  }

  /** The document: a heading per chunk with its state, then its text. */
  render(): string {
    const all = [...this.chunks.values()];
    const done = all.filter((c) => c.status === 'succeeded' || c.status === 'failed' || c.status === 'canceled').length;
    const cached = all.filter((c) => c.status === 'succeeded' && c.note === 'from the cache').length;
    const failed = all.filter((c) => c.status === 'failed').length;
    const canceled = all.filter((c) => c.status === 'canceled').length;
    // "done" covers chunks that ended without an answer: say how many, so a canceled run does not read as a success.
    const unfinished = [failed ? `${failed} failed` : '', canceled ? `${canceled} canceled` : ''].filter(Boolean);
    const ended = unfinished.length ? `: ${done - failed - canceled} succeeded, ${unfinished.join(', ')}` : '';
    const state = `${done} of ${all.length} chunks done${ended}${cached ? ` (${cached} from the cache)` : ''}${this.pass ? ` · ${this.pass}` : ''}`;
    const out = [`# ${this.title}`, '', `${state}${this.finished ? ` · ${this.pass ? `${this.pass.replace(/ of .*/, '')} finished` : 'run finished'} (outputs are in the run folder)` : ' · streaming…'}`, ''];
    for (const c of all) {
      const state = c.status === 'streaming' ? `streaming${c.attempt > 1 ? ` (attempt ${c.attempt})` : ''}…` : c.status;
      out.push(`## ${c.ref.path} · ${lineRange(c.ref.startLine, c.ref.endLine)} · ${state}${c.note ? ` · ${c.note}` : ''}`, '');
      if (c.text) out.push(c.text, '');
    }
    return out.join('\n');
  }

  private known(ids: readonly string[]): LiveChunk[] {
    return ids.map((id) => this.chunks.get(id)).filter((c): c is LiveChunk => c !== undefined);
  }
}

/**
 * The text so far of each `<result id>` block of a partial reply: a closed block up to its (last)
 * closer, the open one up to what has arrived, less a trailing piece of a tag still arriving.
 */
export function splitReply(reply: string): Map<string, string> {
  const out = new Map<string, string>();
  const openers = [...reply.matchAll(OPENER)];
  for (let i = 0; i < openers.length; i++) {
    const m = openers[i];
    const from = m.index + m[0].length;
    const to = i + 1 < openers.length ? openers[i + 1].index : reply.length;
    let section = reply.slice(from, to);
    const close = section.lastIndexOf(CLOSER);
    if (close >= 0) section = section.slice(0, close).replace(/\r?\n$/, '');
    else section = section.replace(/<[^>\n]*$/, (tail) => (CLOSER.startsWith(tail) || '<result'.startsWith(tail) || tail.startsWith('<result') ? '' : tail));
    if (!out.has(m[1])) out.set(m[1], section);
  }
  return out;
}

/** What a streaming run feeds its live document. */
export interface LiveFeed {
  onEvent(e: RunEvent): void;
  onOutcome(o: ChunkOutcome): void;
  onText(batchId: string, chunkIds: readonly string[], delta: string): void;
}

/**
 * The live document of a run that sends while it plans (#17): whether it streams (`shouldStream`) is
 * known once its plan is complete, so what the run says before that is kept, and replayed into the
 * document when it opens. In `auto`, a plan that grows past `STREAM_AUTO_MAX_REQUESTS` stops keeping at
 * once (it will not stream); `never` keeps nothing.
 */
export class DeferredLiveFeed implements LiveFeed {
  private kept: ((f: LiveFeed) => void)[] | undefined;
  private target?: LiveFeed;

  constructor(private readonly mode: StreamMode) {
    this.kept = mode === 'never' ? undefined : [];
  }

  readonly onEvent = (e: RunEvent): void => {
    if (e.type === 'planning' && !shouldStream(this.mode, e.batches)) this.kept = undefined;
    this.pass((f) => f.onEvent(e));
  };

  readonly onOutcome = (o: ChunkOutcome): void => this.pass((f) => f.onOutcome(o));

  readonly onText = (batchId: string, chunkIds: readonly string[], delta: string): void => this.pass((f) => f.onText(batchId, chunkIds, delta));

  /** The plan is complete with `requests` requests: `open` gives the document's feed when it streams, and what was kept is replayed into it. */
  async planned(requests: number, open: () => Promise<LiveFeed | undefined>): Promise<void> {
    if (!this.kept || !shouldStream(this.mode, requests)) {
      this.kept = undefined;
      return;
    }
    const feed = await open();
    // What arrived while the document opened was kept too: replayed in order, then the feed goes straight on.
    const kept = this.kept;
    this.kept = undefined;
    if (!feed) return;
    for (const call of kept) call(feed);
    this.target = feed;
  }

  private pass(call: (f: LiveFeed) => void): void {
    if (this.target) call(this.target);
    else this.kept?.push(call);
  }
}
