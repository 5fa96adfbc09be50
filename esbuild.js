// Builds the extension, the CLI, and (with --tests / --bench) the test and benchmark bundles.
// Tests are bundled too: p-limit is ESM-only, and bundling lets plain mocha run the CommonJS output.
const esbuild = require('esbuild');
const fs = require('fs');
const path = require('path');

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');
const tests = process.argv.includes('--tests');
const bench = process.argv.includes('--bench');

/** Every `*.ts` file under `dir` whose name ends with `suffix`. */
function findFiles(dir, suffix) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true })
    .map((f) => path.join(dir, String(f)))
    .filter((f) => f.endsWith(suffix));
}

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  external: ['vscode'],
  logLevel: 'warning',
  sourcemap: production ? false : 'linked',
  minify: production,
  sourcesContent: false,
};

async function main() {
  const builds = [
    { ...common, entryPoints: ['src/extension.ts'], outfile: 'dist/extension.js' },
    { ...common, entryPoints: ['src/cli.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } },
    // The planning worker threads' entry (#17): started by path from dist/ (src/core/plan/chunkPool.ts).
    { ...common, entryPoints: ['src/core/plan/planWorker.ts'], outfile: 'dist/planWorker.js' },
  ];
  if (tests) {
    // Bundles of test files that were moved or deleted would still run (and count twice): start clean.
    fs.rmSync('out/test', { recursive: true, force: true });
    builds.push({
      ...common,
      entryPoints: [...findFiles('test/unit', '.test.ts'), ...findFiles('test/support', '.ts')],
      outdir: 'out/test',
      outbase: 'test',
      external: ['vscode', 'mocha'],
      sourcemap: 'inline',
    });
    // Integration tests run inside the extension host: the suite entry bundles mocha (ESM-only in
    // v12), the test files use its globals and import only 'vscode' from the host.
    const integration = findFiles('test/integration', '.test.ts');
    if (integration.length) {
      const dirs = { outdir: 'out/test/integration', outbase: 'test/integration', sourcemap: 'inline' };
      builds.push({ ...common, ...dirs, entryPoints: ['test/integration/suite/index.ts'], external: ['vscode'],
        // mocha's parallel mode (unused here) resolves worker files at run time.
        logOverride: { 'require-resolve-not-external': 'silent' } });
      builds.push({ ...common, ...dirs, entryPoints: integration, external: ['vscode', 'mocha'] });
    }
    // The untrusted-workspace suite: its own tests, the same suite entry, run by a second host whose
    // workspace is untrusted (scripts/tiers/integration.js).
    const untrusted = findFiles('test/integration-untrusted', '.test.ts');
    if (untrusted.length) {
      const dirs = { outdir: 'out/test/integration-untrusted', outbase: 'test/integration-untrusted', sourcemap: 'inline' };
      builds.push({ ...common, ...dirs, entryPoints: { 'suite/index': 'test/integration/suite/index.ts' }, external: ['vscode'],
        logOverride: { 'require-resolve-not-external': 'silent' } });
      builds.push({ ...common, ...dirs, entryPoints: untrusted, external: ['vscode', 'mocha'] });
    }
    // UI tests run in plain Node (mocha in scripts/tiers/ui.js) and drive Chromium through playwright-core.
    const ui = findFiles('test/ui', '.test.ts');
    if (ui.length) {
      builds.push({ ...common, entryPoints: ui, outdir: 'out/test/ui', outbase: 'test/ui', external: ['vscode', 'mocha', 'playwright-core'], sourcemap: 'inline' });
    }
  }
  if (bench) {
    builds.push({ ...common, entryPoints: findFiles('bench', '.ts'), outdir: 'out/bench', outbase: 'bench', sourcemap: 'inline' });
  }
  if (watch) {
    for (const b of builds) {
      const ctx = await esbuild.context(b);
      await ctx.watch();
    }
    console.log('[watch] watching for changes');
    return;
  }
  await Promise.all(builds.map((b) => esbuild.build(b)));
  fs.chmodSync('dist/cli.js', 0o755);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
