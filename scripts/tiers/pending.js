// What every tier reports besides its counts: the full titles of its pending (skipped) tests, so that
// scripts/test.js can fail any skip that test/skips.json does not list with its reason.

/**
 * Collects the full titles of the tests `runner` reports as pending (`it.skip`, `describe.skip`,
 * `this.skip()`, an `it` without a body). Call before the run starts.
 * @param {import('mocha').Runner} runner
 * @returns {string[]} filled as the run goes
 */
exports.collectPending = function collectPending(runner) {
  const titles = [];
  runner.on('pending', (test) => titles.push(test.fullTitle()));
  return titles;
};
