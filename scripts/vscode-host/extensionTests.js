// Runs an extensionTestsPath module (mocha) inside code-server's real extension host, with the
// extension loaded from the working tree, and returns the counts the suite reports.
//
// code-server rejects --extensionDevelopmentPath; VS Code web's `payload` URL parameter does the same
// when the server runs with `--vscode-option enable-smoke-test-driver`. The workbench then calls
// window.codeAutomationExit(code) when the run ends (the hook @vscode/test-web uses), and the extension
// host's console.log lines reach the page console prefixed with "[Extension Host]".
const fs = require('fs');
const path = require('path');
const util = require('util');
const { startCodeServer, remoteUri } = require('./server');
const { launchChromium } = require('./browser');
const { withTimeout, memorySampler } = require('./processes');

/** Must match OUTPUT_MARKER and RESULT_MARKER in test/integration/suite/index.ts. */
const OUTPUT_MARKER = 'BATCH_PROMPT_MOCHA_OUT';
const RESULT_MARKER = 'BATCH_PROMPT_MOCHA_RESULT';

/**
 * Reads the suite's tagged lines out of workbench log entries. Extension host console.log lines
 * arrive through window.codeAutomationLog (smoke-test driver mode) and the page console, either
 * way as printf-style argument lists; a line seen on both channels is printed once.
 */
function suiteOutputReader(print) {
  const seen = new Set();
  let counts = null;
  return {
    /** @param {unknown[]} args one log call's arguments */
    take(args) {
      const text = util.format(...args);
      const r = text.indexOf(RESULT_MARKER);
      if (r >= 0) {
        try {
          counts = JSON.parse(text.slice(r + RESULT_MARKER.length));
        } catch {
          print(`[integration] unreadable result line: ${text}`);
        }
        return;
      }
      const o = text.indexOf(OUTPUT_MARKER);
      if (o < 0) return;
      const m = /^ (\d+) ?(.*)$/s.exec(text.slice(o + OUTPUT_MARKER.length));
      if (!m || seen.has(m[1])) return;
      seen.add(m[1]);
      print(m[2]);
    },
    counts: () => counts,
  };
}

/**
 * The extensionDevelopmentPath to load: the project alone, or, with companions, a folder of links to
 * the project and each companion. The workbench keeps one extensionDevelopmentPath of the payload
 * (the last), and a folder without a package.json is scanned as several extensions; the extension
 * host maps code to its extension by real path, so the project's files still belong to it.
 */
function developmentPath(runDir, root, companions = []) {
  if (!companions.length) return root;
  const dir = path.join(runDir, 'dev-extensions');
  fs.mkdirSync(dir, { recursive: true });
  for (const target of [root, ...companions]) fs.symlinkSync(target, path.join(dir, path.basename(target)), 'dir');
  return dir;
}

/**
 * @param {object} opts
 * @param {string} opts.root project root (the extension under test)
 * @param {string} opts.testsPath absolute path of the built extensionTestsPath module
 * @param {string} [opts.name] run folder name under .vscode-test/runs
 * @param {number} [opts.timeoutMs] bound on the whole run once the page is open
 * @param {Record<string,string>} [opts.extensionEnvironment] environment for the extension host
 * @param {string[]} [opts.companionExtensions] further development extensions to load (test-only
 *   manifests, such as a language model vendor the tests register a provider for)
 * @param {string} [opts.workspaceFrom] a folder copied into the workspace first
 * @param {boolean} [opts.workspaceTrust] open the workspace with workspace trust on (untrusted)
 * @returns {Promise<{passed:number, failed:number, skipped:number, pending:string[], exitCode:number|null, seconds:number, peakMemoryMB:number, runDir:string}>}
 */
async function runExtensionTests(opts) {
  const started = Date.now();
  const mem = memorySampler();
  const timeoutMs = opts.timeoutMs || Number(process.env.BATCH_PROMPT_INTEGRATION_TIMEOUT_MS) || 900000; // a hang guard only: the tier takes 3-6 minutes on a loaded 2-core machine
  let server;
  let browser;
  let counts = null;
  let exitCode = null;
  let runDir = '';
  try {
    server = await startCodeServer({ root: opts.root, name: opts.name || 'integration', smokeTestDriver: true, workspaceFrom: opts.workspaceFrom, workspaceTrust: opts.workspaceTrust });
    runDir = server.profile.dir;
    const workbenchLog = fs.createWriteStream(path.join(runDir, 'workbench.log'));
    browser = await launchChromium({ runDir });
    const page = await browser.newPage();

    const output = suiteOutputReader((line) => console.log(`    ${line}`.trimEnd()));
    let onExit;
    const exited = new Promise((resolve) => (onExit = resolve));
    await page.exposeFunction('codeAutomationLog', (type, args) => {
      const list = Array.isArray(args) ? args : [args];
      workbenchLog.write(`[${type}] ${util.format(...list)}\n`);
      output.take(list);
    });
    await page.exposeFunction('codeAutomationExit', (code) => onExit(code));
    // Console arguments are fetched asynchronously; a chain keeps the lines in order.
    let consoleChain = Promise.resolve();
    page.on('console', (msg) => {
      const values = Promise.all(msg.args().map((a) => a.jsonValue().catch(() => '')));
      consoleChain = consoleChain.then(async () => {
        const list = await values;
        workbenchLog.write(`[console.${msg.type()}] ${util.format(...list)}\n`);
        output.take(list);
      });
    });
    page.on('pageerror', (e) => workbenchLog.write(`[pageerror] ${e.message}\n`));

    const payload = [
      ['extensionDevelopmentPath', remoteUri(server.port, developmentPath(runDir, opts.root, opts.companionExtensions))],
      ['extensionTestsPath', remoteUri(server.port, opts.testsPath)],
    ];
    const extensionEnvironment = { BATCH_PROMPT_TAG_OUTPUT: '1', ...opts.extensionEnvironment };
    payload.push(['extensionEnvironment', JSON.stringify(extensionEnvironment)]);
    const url = `${server.url}/?folder=${encodeURIComponent(server.profile.workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
    await page.goto(url, { timeout: 60000 });
    exitCode = await withTimeout(
      Promise.race([
        exited,
        new Promise((_, reject) => {
          const t = setInterval(() => {
            if (server.exited()) {
              clearInterval(t);
              reject(new Error('code-server exited during the run'));
            }
          }, 500);
          exited.finally(() => clearInterval(t));
        }),
      ]),
      timeoutMs,
      `the extension tests did not finish; logs in ${runDir}`,
    );
    await withTimeout(consoleChain, 5000, 'reading the page console').catch(() => {});
    counts = output.counts();
    workbenchLog.end();
  } finally {
    if (browser) await withTimeout(browser.close(), 10000, 'closing Chromium').catch(() => {});
    if (server) await server.stop();
  }
  const seconds = (Date.now() - started) / 1000;
  const peakMemoryMB = mem.stop();
  // The counts come from the suite; the exit code is the host's own verdict. Trust neither alone: a
  // non-zero exit without a failure count (a crash, an unloadable suite) still counts as a failure.
  const r = counts || { passed: 0, failed: 1, skipped: 0 };
  let failed = Number(r.failed) || 0;
  if (exitCode !== 0 && failed === 0) failed = 1;
  if (!counts) console.error(`  [integration] the suite reported no counts (exit code ${exitCode}); logs in ${runDir}`);
  // Full titles of the pending tests (scripts/test.js checks them against test/skips.json).
  const pending = Array.isArray(r.pending) ? r.pending.map(String) : [];
  return { passed: Number(r.passed) || 0, failed, skipped: Number(r.skipped) || 0, pending, exitCode, seconds, peakMemoryMB, runDir };
}

module.exports = { runExtensionTests, OUTPUT_MARKER, RESULT_MARKER };
