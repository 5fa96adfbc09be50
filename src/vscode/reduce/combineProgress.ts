import type { RunEvent } from '../../core/execute/events';

/**
 * The progress of a reduce (#16) as "Combine Results…" shows it ("combining: level 2, 1/3 groups"),
 * from `reduceRun`'s `onLevel` and executor events; no `vscode` import (unit-tested in plain Node). A
 * group answered before (a resume, the cache) sends no event: it is counted when its level starts
 * only if the caller says so, so the count never passes the level's groups.
 */
export class CombineProgress {
  level = 0;
  groups = 0;
  done = 0;
  final = false;
  /** Requests started at this level (retries included), for "attempt" wording. */
  private started = 0;

  onLevel(level: number, groups: number, final: boolean): void {
    this.level = level;
    this.groups = groups;
    this.final = final;
    this.done = 0;
    this.started = 0;
  }

  onEvent(e: RunEvent): void {
    if (e.type === 'batch-started') this.started++;
    else if (e.type === 'chunk-finished') this.done = Math.min(this.groups, this.done + 1);
  }

  /** The notification's text. */
  describe(): string {
    if (this.level === 0) return 'combining: reading the results…';
    const retried = this.started > this.groups ? `, ${this.started - this.groups} retried` : '';
    return `combining: level ${this.level}${this.final ? ' (the final answer)' : ''}, ${this.done}/${this.groups} group${this.groups === 1 ? '' : 's'}${retried}`;
  }

  /** How far the reduce is, 0 to 100, within its level. */
  percent(): number {
    return this.groups ? (this.done / this.groups) * 100 : 0;
  }
}
