/** "1m 20s", "12 s", "850 ms". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

let numberFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
let locale: string | undefined;

/**
 * The one way a count or a token figure is written in the CLI's and the editor's texts (#18): the
 * locale's grouping (`714,909` in English, `714.909` in German), rounded to a whole number. The editor
 * sets VS Code's display language once (`setNumberLocale`); the CLI keeps the process's locale.
 */
export function formatNumber(n: number, fractionDigits = 0): string {
  if (fractionDigits === 0) return numberFormat.format(n);
  return new Intl.NumberFormat(locale, { maximumFractionDigits: fractionDigits }).format(n);
}

/** The locale `formatNumber` writes in (an unknown one falls back to the process's). */
export function setNumberLocale(value: string | undefined): void {
  try {
    numberFormat = new Intl.NumberFormat(value, { maximumFractionDigits: 0 });
    locale = value;
  } catch {
    numberFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
    locale = undefined;
  }
}

/** `formatNumber` and the noun, singular for one: "1 file", "1,200 files". */
export function countOf(n: number, singular: string, plural = `${singular}s`): string {
  return `${formatNumber(n)} ${n === 1 ? singular : plural}`;
}

/** "line 7" or "lines 1–16": a chunk's or a finding's lines, as the views and reports say them. */
export function lineRange(start: number, end: number): string {
  return end === start ? `line ${start}` : `lines ${start}–${end}`;
}
