import type { RunEvent } from '../../core/execute/events';
import { splitReply } from '../live/liveResultsModel';

/**
 * The combined answer (#16) as it streams, shown as the last section of the run's live results
 * document; no `vscode` import (unit-tested in plain Node). Only the final level's request is shown:
 * partial answers are the model's working, not the answer. A retried request starts again from nothing;
 * the answer file holds what counts.
 */
export class LiveAnswerModel {
  private final = false;
  private group?: string;
  private reply = '';
  private text = '';
  private state: 'waiting' | 'streaming' | 'retrying' | 'done' | 'failed' = 'waiting';
  private level = 0;

  constructor(private readonly answerFile = 'answer.md') {}

  onLevel(level: number, _groups: number, final: boolean): void {
    this.level = level;
    this.final = final;
  }

  onEvent(e: RunEvent): void {
    if (!this.final) return;
    if (e.type === 'batch-started') {
      this.group = e.chunkIds[0];
      this.reply = '';
      this.text = '';
      this.state = 'streaming';
    } else if (e.type === 'batch-finished' && !e.ok) {
      this.state = 'retrying';
    } else if (e.type === 'chunk-finished') {
      this.state = e.outcome.status === 'succeeded' ? 'done' : 'failed';
    }
  }

  /** A piece of the streamed reply (the executor's `onText`); pieces of other levels are left out. */
  onText(_batchId: string, chunkIds: readonly string[], delta: string): void {
    if (!this.final || this.state !== 'streaming' || (this.group && chunkIds[0] !== this.group)) return;
    this.reply += delta;
    const sections = splitReply(this.reply);
    const section = this.group ? sections.get(this.group) : undefined;
    if (section !== undefined) this.text = section;
    else if (sections.size === 0) {
      // An answer may come without its tag: shown as it is, unless a tag is still arriving.
      const t = this.reply.trimStart();
      if (!(t === '' || ('<result'.startsWith(t.slice(0, 7)) && !t.includes('>')))) this.text = this.reply;
    }
  }

  /** The section: a heading with the state, then the text so far. */
  render(): string {
    const state =
      this.state === 'waiting'
        ? this.level
          ? `level ${this.level} of the combine…`
          : 'waiting for the results to be combined…'
        : this.state === 'streaming'
          ? 'streaming…'
          : this.state === 'retrying'
            ? 'the request failed; retrying…'
            : this.state === 'done'
              ? `done (${this.answerFile} in the run folder holds it)`
              : 'failed';
    return [`## Combined answer · ${state}`, '', ...(this.text ? [this.text, ''] : [])].join('\n');
  }
}
