// The extensionTestsPath module: VS Code's extension host calls run() after loading the extension
// under test, exactly as with @vscode/test-electron. It runs mocha over every bundled
// `out/test/integration/**/*.test.js` and rejects when a test fails.
//
// Mocha is bundled into this file (mocha 12 is ESM-only; bundling avoids depending on how the host's
// Node loads it). The test files stay separate bundles that mocha require()s; they use mocha's globals.
import * as fs from 'fs';
import * as path from 'path';
import { format } from 'util';
import Mocha from 'mocha';

/**
 * Extension host console.log lines reach the browser page (the workbench log hook and the page
 * console) mixed with the workbench's own log, so the suite tags what the tier runner
 * (scripts/vscode-host/extensionTests.js) should read: reporter and test output as
 * `OUTPUT_MARKER <seq> <text>` (seq lets the runner drop a line it receives twice), the counts as
 * `RESULT_MARKER <json>`.
 */
export const OUTPUT_MARKER = 'BATCH_PROMPT_MOCHA_OUT';
export const RESULT_MARKER = 'BATCH_PROMPT_MOCHA_RESULT';

function testFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.test.js'))
    .sort()
    .map((f) => path.join(dir, f));
}

export function run(): Promise<void> {
  const original = console.log;
  let seq = 0;
  // Tagged only when the code-server runner asks (through the host's environment); in desktop VS Code
  // (npm run test:electron) the host's console goes to the terminal as it is.
  const tagOutput = process.env.BATCH_PROMPT_TAG_OUTPUT === '1';
  const tagged = (...args: unknown[]): void => {
    for (const line of format(...args).split('\n')) original(tagOutput ? `${OUTPUT_MARKER} ${++seq} ${line}` : line);
  };
  // The reporter writes through Base.consoleLog (captured when mocha loaded); tests through console.log.
  (Mocha.reporters.Base as unknown as { consoleLog: typeof console.log }).consoleLog = tagged;
  console.log = tagged;
  const report = (counts: object): void => original(`${RESULT_MARKER} ${JSON.stringify(counts)}`);

  const mocha = new Mocha({
    ui: 'bdd',
    reporter: 'spec',
    color: false,
    // A hang guard only (waits inside tests use HANG_GUARD_MS, 30 s, to fail first with a readable name).
    timeout: Number(process.env.BATCH_PROMPT_TEST_TIMEOUT_MS) || 60000,
    // A `.only` left in a test fails the run (mocha throws while loading it: counted as one failure below).
    forbidOnly: true,
    grep: process.env.BATCH_PROMPT_TEST_GREP || undefined,
  });
  const root = path.resolve(__dirname, '..');
  for (const f of testFiles(root)) mocha.addFile(f);

  return new Promise((resolve, reject) => {
    try {
      // Full titles of pending tests: scripts/test.js fails any that test/skips.json does not list.
      const pending: string[] = [];
      const runner = mocha.run((failures) => {
        console.log = original;
        const s = runner.stats ?? { passes: 0, failures, pending: 0 };
        report({ passed: s.passes, failed: failures, skipped: s.pending, pending, files: mocha.files.length });
        if (failures > 0) reject(new Error(`${failures} integration test(s) failed`));
        else resolve();
      });
      runner.on('pending', (test) => pending.push(test.fullTitle()));
    } catch (e) {
      // A test file that throws while loading: count it as one failure.
      console.log = original;
      tagged(`could not load the integration tests: ${e instanceof Error ? e.stack : String(e)}`);
      report({ passed: 0, failed: 1, skipped: 0, pending: [], error: String(e) });
      reject(e instanceof Error ? e : new Error(String(e)));
    }
  });
}
