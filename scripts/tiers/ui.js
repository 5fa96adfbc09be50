// UI end-to-end tier: the packaged .vsix installed into a fresh code-server profile, the workbench
// driven in Debian's Chromium by the playwright-core scenarios in out/test/ui (bundled from test/ui).
// This tier owns the processes (code-server, Chromium); the scenarios attach to them through the
// environment (see test/ui/support/workbench.ts) and save screenshots under test-results/ui/.
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { startCodeServer } = require('../vscode-host/server');
const { launchChromiumServer } = require('../vscode-host/browser');
const { locateHost, missingHostError } = require('../vscode-host/paths');
const { withTimeout, memorySampler } = require('../vscode-host/processes');
const { collectPending } = require('./pending');

const VSIX = 'batch-prompt.vsix';

/** `npm run package`: the minified build and batch-prompt.vsix, exactly what a user installs. */
function packageExtension(root) {
  const started = Date.now();
  const r = spawnSync('npm', ['run', '--silent', 'package'], {
    cwd: root,
    // npm's debug log goes with the run's files, not into ~/.npm/_logs.
    env: { ...process.env, npm_config_logs_dir: path.join(root, '.vscode-test', 'npm-logs') },
    encoding: 'utf8',
    timeout: 180000,
    killSignal: 'SIGKILL',
  });
  if (r.status !== 0) {
    throw new Error(`npm run package failed (${r.error ? r.error.message : `exit ${r.status}`}):\n${r.stdout}${r.stderr}`);
  }
  const vsix = path.join(root, VSIX);
  if (!fs.existsSync(vsix)) throw new Error(`npm run package did not produce ${VSIX}`);
  console.log(`  packaged ${VSIX} (${Math.round(fs.statSync(vsix).size / 1024)} KB) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return vsix;
}

function runMocha(files, timeoutMs) {
  const Mocha = require('mocha').default;
  const mocha = new Mocha({
    reporter: 'spec',
    timeout: Number(process.env.BATCH_PROMPT_UI_TEST_TIMEOUT_MS) || 90000,
    // A `.only` left in a scenario fails the run.
    forbidOnly: true,
    grep: process.env.BATCH_PROMPT_TEST_GREP || undefined,
  });
  for (const f of files) mocha.addFile(f);
  let runner;
  let pending = [];
  const done = new Promise((resolve) => {
    runner = mocha.run(() => {
      const s = runner.stats;
      resolve({ passed: s.passes, failed: s.failures, skipped: s.pending, pending });
    });
    pending = collectPending(runner);
  });
  return withTimeout(done, timeoutMs, 'the UI scenarios did not finish').catch((e) => {
    if (runner) runner.abort();
    console.error(`  ${e.message}`);
    const s = runner.stats || { passes: 0, failures: 0, pending: 0 };
    return { passed: s.passes, failed: s.failures + 1, skipped: s.pending, pending };
  });
}

/** @returns {Promise<{passed:number, failed:number, skipped:number, pending?:string[], tierSkipped?:string}>} */
exports.run = async function run(root) {
  // scripts/test.js decides what a skipped tier means (a failure in CI; see the comment at its top).
  if (process.env.BATCH_PROMPT_SKIP_HOST_TIERS) return { passed: 0, failed: 0, skipped: 0, pending: [], tierSkipped: 'BATCH_PROMPT_SKIP_HOST_TIERS is set' };
  if (!locateHost()) throw missingHostError();
  const dir = path.join(root, 'out/test/ui');
  const files = fs.existsSync(dir)
    ? fs.readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith('.test.js')).sort().map((f) => path.join(dir, f))
    : [];
  if (!files.length) throw new Error(`no UI scenarios in ${dir}: run \`node esbuild.js --tests\``);

  const started = Date.now();
  const vsix = packageExtension(root);
  const mem = memorySampler();
  let server;
  let browser;
  // Mocha's require() caches the bundles; a second run in one process must load them afresh.
  for (const f of files) delete require.cache[require.resolve(f)];
  const saved = { ...process.env };
  try {
    // Without the smoke-test driver flag: it would hide the notification toasts the scenarios check.
    server = await startCodeServer({ root, name: 'ui', installExtensions: [vsix], workspaceFrom: path.join(root, 'test/fixtures/ui-workspace') });
    browser = await launchChromiumServer({ runDir: server.profile.dir });
    process.env.BATCH_PROMPT_ROOT = root;
    process.env.BATCH_PROMPT_UI_URL = `${server.url}/?folder=${encodeURIComponent(server.profile.workspace)}`;
    process.env.BATCH_PROMPT_UI_BROWSER = browser.wsEndpoint;
    process.env.BATCH_PROMPT_UI_RESULTS = path.join(root, 'test-results', 'ui');
    // Scenarios write their user settings (model endpoints on their own local servers) before opening
    // a window, and read what a run wrote in the workspace.
    process.env.BATCH_PROMPT_UI_WORKSPACE = server.profile.workspace;
    process.env.BATCH_PROMPT_UI_USER_SETTINGS = path.join(server.profile.userData, 'User', 'settings.json');
    // A hang guard for the whole tier (about 7.5 min on a quiet 2-core machine, twice that when it is busy).
    const r = await runMocha(files, Number(process.env.BATCH_PROMPT_UI_TIMEOUT_MS) || 1_800_000);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(`  ui: ${seconds} s with packaging, peak memory (PSS) of the processes it started ${mem.stop()} MB, logs in ${path.relative(root, server.profile.dir)}`);
    return r;
  } finally {
    for (const k of ['BATCH_PROMPT_ROOT', 'BATCH_PROMPT_UI_URL', 'BATCH_PROMPT_UI_BROWSER', 'BATCH_PROMPT_UI_RESULTS', 'BATCH_PROMPT_UI_WORKSPACE', 'BATCH_PROMPT_UI_USER_SETTINGS']) {
      if (k in saved) process.env[k] = saved[k];
      else delete process.env[k];
    }
    if (browser) await browser.close();
    if (server) await server.stop();
    mem.stop();
  }
};
