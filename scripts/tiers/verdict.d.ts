// Types of verdict.js for the unit tests (test/unit/tooling/testVerdict.test.ts).
export interface SkipEntry {
  title: string;
  reason: string;
}
export interface TierReport {
  name: string;
  passed: number;
  failed: number;
  skipped?: number;
  pending?: string[];
  tierSkipped?: string;
}
export function isCi(env?: Record<string, string | undefined>): boolean;
export function readSkipList(file: string): { entries: SkipEntry[]; problems: string[] };
export function verdict(o: { tiers: TierReport[]; otherFailures?: number; skipList: SkipEntry[]; skipListProblems?: string[]; ci: boolean; allowSkip: boolean }): {
  passed: number;
  failed: number;
  exitCode: number;
  line: string;
  messages: string[];
};
