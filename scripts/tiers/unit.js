// Unit tier: plain-Node mocha over the bundled test files in out/test/unit.
const path = require('path');
const fs = require('fs');
const Mocha = require('mocha').default;

/** @returns {Promise<{passed:number, failed:number, skipped:number}>} */
exports.run = function run(root) {
  const dir = path.join(root, 'out/test/unit');
  // BATCH_PROMPT_TEST_GREP selects tests here as in the host tiers.
  const mocha = new Mocha({ reporter: 'spec', timeout: 20000, grep: process.env.BATCH_PROMPT_TEST_GREP || undefined });
  for (const f of fs.readdirSync(dir, { recursive: true })) {
    if (String(f).endsWith('.test.js')) mocha.addFile(path.join(dir, String(f)));
  }
  return new Promise((resolve) => {
    const runner = mocha.run(() => {
      const s = runner.stats;
      resolve({ passed: s.passes, failed: s.failures, skipped: s.pending });
    });
  });
};
