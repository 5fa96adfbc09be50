#!/usr/bin/env node
// `npm test`: type-check, lint, build, then run every test tier and print one closing line
// "N passed, N failed" over all of them (CI reads that line).
//   --tier NAME   run only that tier (unit | integration | ui); repeatable
//   --no-static   skip the type-check and lint
const { spawnSync } = require('child_process');
const path = require('path');

const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const only = args.flatMap((a, i) => (a === '--tier' ? [args[i + 1]] : []));
const runStatic = !args.includes('--no-static');

/** Runs a command inheriting stdio; returns true on exit code 0. */
function sh(cmd, cmdArgs, opts = {}) {
  const r = spawnSync(cmd, cmdArgs, { cwd: root, stdio: 'inherit', ...opts });
  return r.status === 0;
}

/** Tiers in order. Each returns { passed, failed, skipped }. */
const tiers = [
  { name: 'unit', run: () => require('./tiers/unit').run(root) },
  { name: 'integration', run: () => require('./tiers/integration').run(root), optional: true },
  { name: 'ui', run: () => require('./tiers/ui').run(root), optional: true },
];

async function main() {
  const total = { passed: 0, failed: 0, skipped: 0 };
  if (runStatic) {
    console.log('> type-check');
    if (!sh('npx', ['tsc', '--noEmit'])) total.failed++;
    console.log('> lint');
    if (!sh('npx', ['eslint', '--max-warnings', '0', 'src', 'test', 'bench', 'scripts'])) total.failed++;
  }
  console.log('> build');
  if (!sh('node', ['esbuild.js', '--tests'])) {
    console.log('\n0 passed, 1 failed');
    process.exit(1);
  }
  for (const tier of tiers) {
    if (only.length && !only.includes(tier.name)) continue;
    let mod;
    try {
      mod = require.resolve(`./tiers/${tier.name}`);
    } catch {
      if (tier.optional) continue;
      throw new Error(`missing tier ${tier.name}`);
    }
    void mod;
    console.log(`\n> ${tier.name} tests`);
    const started = Date.now();
    try {
      const r = await tier.run();
      total.passed += r.passed;
      total.failed += r.failed;
      total.skipped += r.skipped || 0;
      console.log(`  ${tier.name}: ${r.passed} passed, ${r.failed} failed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    } catch (e) {
      console.error(`  ${tier.name} tier could not run: ${e && e.stack ? e.stack : e}`);
      total.failed++;
    }
  }
  const skipped = total.skipped ? `, ${total.skipped} skipped` : '';
  console.log(`\n${total.passed} passed, ${total.failed} failed${skipped}`);
  process.exit(total.failed > 0 || total.passed === 0 ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  console.log('\n0 passed, 1 failed');
  process.exit(1);
});
