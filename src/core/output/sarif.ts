import { createHash } from 'crypto';
import type { LocatedFinding, Severity } from './kind';
import { normaliseMessage } from './validate';

/** The tool a run folder's SARIF names (the CLI's `--version` too). */
export const TOOL_NAME = 'Batch Prompt';
export const TOOL_VERSION = '0.1.0';

/** The base every result's `artifactLocation` is relative to (GitHub code scanning's usual name). */
export const SRCROOT = '%SRCROOT%';

/** The `partialFingerprints` key: versioned, so a change of the hash's recipe is a new key. */
export const FINGERPRINT_KEY = 'batchPromptFinding/v1';

/** A rule id for findings that name none (code scanning wants a `ruleId` on every result). */
export const DEFAULT_RULE = 'finding';

export interface SarifOptions {
  toolName: string;
  toolVersion: string;
  informationUri?: string;
  /** Absolute `file:` URI of the workspace root, ending in `/`: written as `originalUriBaseIds`. */
  rootUri?: string;
  /** The text of a line of a file, if known: makes fingerprints follow the code when lines move. */
  lineText?: (path: string, line: number) => string | undefined;
}

type SarifLevel = 'error' | 'warning' | 'note';

const LEVELS: Record<Severity, SarifLevel> = { error: 'error', warning: 'warning', info: 'note', hint: 'note' };

/** The SARIF 2.1.0 `level` of a finding's severity. */
export function sarifLevel(severity: Severity): SarifLevel {
  return LEVELS[severity];
}

/**
 * A SARIF 2.1.0 log with one run: the tool (name, version, one rule per distinct rule id, sorted),
 * and one result per finding in the given order (dedupe first: `dedupeFindings`). Paths are taken as
 * workspace-relative with `/` separators and written as relative URIs under `%SRCROOT%`.
 */
export function toSarif(findings: readonly LocatedFinding[], opts: SarifOptions): Record<string, unknown> {
  const ruleIds = [...new Set(findings.map(ruleOf))].sort();
  const ruleIndex = new Map(ruleIds.map((id, i) => [id, i]));
  const results = findings.map((f) => {
    const id = ruleOf(f);
    const region: Record<string, number> = { startLine: f.line };
    if (f.endLine !== undefined && f.endLine !== f.line) region.endLine = f.endLine;
    if (f.column !== undefined) region.startColumn = f.column;
    return {
      ruleId: id,
      ruleIndex: ruleIndex.get(id),
      level: sarifLevel(f.severity),
      message: { text: f.suggestion ? `${f.message}\nSuggestion: ${f.suggestion}` : f.message },
      locations: [{ physicalLocation: { artifactLocation: { uri: relativeUri(f.path), uriBaseId: SRCROOT }, region } }],
      partialFingerprints: { [FINGERPRINT_KEY]: findingFingerprint(f, opts.lineText?.(f.path, f.line)) },
      properties: { chunkId: f.chunkId, severity: f.severity, ...(f.suggestion ? { suggestion: f.suggestion } : {}) },
    };
  });
  const driver: Record<string, unknown> = {
    name: opts.toolName,
    version: opts.toolVersion,
    rules: ruleIds.map((id) => ({ id, name: id, shortDescription: { text: id } })),
  };
  if (opts.informationUri) driver.informationUri = opts.informationUri;
  const run: Record<string, unknown> = { tool: { driver }, columnKind: 'utf16CodeUnits', results };
  if (opts.rootUri) run.originalUriBaseIds = { [SRCROOT]: { uri: opts.rootUri.endsWith('/') ? opts.rootUri : `${opts.rootUri}/` } };
  return { $schema: 'https://json.schemastore.org/sarif-2.1.0.json', version: '2.1.0', runs: [run] };
}

/**
 * A hash that stays the same across runs for the same problem: of the path, the rule, the normalised
 * message, and the trimmed text of its line when given. The line number is left out so that a finding
 * keeps its identity when code above it moves.
 */
export function findingFingerprint(f: LocatedFinding, lineText?: string): string {
  const parts = [f.path, f.rule ?? '', normaliseMessage(f.message), lineText === undefined ? '' : lineText.trim()];
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 32);
}

function ruleOf(f: LocatedFinding): string {
  return f.rule?.trim() || DEFAULT_RULE;
}

/** A workspace-relative path as a relative URI reference: `/` separators, each segment percent-encoded. */
export function relativeUri(p: string): string {
  return p.replace(/\\/g, '/').replace(/^\.\//, '').split('/').map(encodeURIComponent).join('/');
}
