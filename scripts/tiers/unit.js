// Unit tier: plain-Node mocha over the bundled test files in out/test/unit. Timeouts are hang guards only
// (60 s, 90 s for suites that spawn the CLI): a busy 2-core machine runs the tier several times slower.
const path = require('path');
const fs = require('fs');
const Mocha = require('mocha').default;
const { collectPending } = require('./pending');

/** @returns {Promise<{passed:number, failed:number, skipped:number, pending:string[]}>} */
exports.run = function run(root) {
  const dir = path.join(root, 'out/test/unit');
  // BATCH_PROMPT_TEST_GREP selects tests here as in the host tiers. A `.only` left in a test fails the run.
  const mocha = new Mocha({ reporter: 'spec', timeout: 60000, forbidOnly: true, grep: process.env.BATCH_PROMPT_TEST_GREP || undefined });
  for (const f of fs.readdirSync(dir, { recursive: true })) {
    if (String(f).endsWith('.test.js')) mocha.addFile(path.join(dir, String(f)));
  }
  return new Promise((resolve) => {
    let pending = [];
    const runner = mocha.run(() => {
      const s = runner.stats;
      resolve({ passed: s.passes, failed: s.failures, skipped: s.pending, pending });
    });
    pending = collectPending(runner);
  });
};
