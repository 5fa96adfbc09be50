// Debian's Chromium driven by playwright-core (the `playwright` package's browser download cannot run
// here). Playwright starts the browser in its own process group and kills it when this process exits.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { locateHost, CHROMIUM } = require('./paths');
const { trackGroup, stopGroup, withTimeout } = require('./processes');

/** Flags checked on these machines (see /work/shared/vscode-host.md). */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/**
 * Chromium writes crash-report settings, a dconf cache and singleton sockets under the XDG folders,
 * HOME and TMPDIR: point them into the run's folder, except TMPDIR. Its singleton socket path must
 * stay under the 107 bytes of a Unix socket address, which a deep clone path plus the run folder
 * exceeded: TMPDIR is a short folder in the system temp folder, removed when this process exits.
 */
function launchOptions(runDir, timeoutMs) {
  const host = locateHost();
  const dir = path.join(runDir, 'chromium');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bp-chromium-'));
  process.once('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
  const env = { ...process.env, HOME: path.join(dir, 'home'), TMPDIR: tmp };
  for (const x of ['config', 'cache', 'data']) env[`XDG_${x.toUpperCase()}_HOME`] = path.join(dir, x);
  for (const d of [env.HOME, env.TMPDIR, env.XDG_CONFIG_HOME, env.XDG_CACHE_HOME, env.XDG_DATA_HOME]) fs.mkdirSync(d, { recursive: true });
  return { executablePath: host ? host.chromium : CHROMIUM, args: CHROMIUM_ARGS, timeout: timeoutMs, headless: true, env };
}

/** Launches headless Chromium, its files under `runDir`; `timeoutMs` bounds the launch. */
async function launchChromium({ runDir, timeoutMs = 30000 }) {
  const { chromium } = require('playwright-core');
  return chromium.launch(launchOptions(runDir, timeoutMs));
}

/**
 * Launches headless Chromium as a server that tests attach to with `chromium.connect(wsEndpoint)`.
 * The browser's process group is tracked, so it is killed at exit even if close() is never reached.
 * @returns {Promise<{wsEndpoint: string, close: () => Promise<void>}>}
 */
async function launchChromiumServer({ runDir, timeoutMs = 30000 }) {
  const { chromium } = require('playwright-core');
  const server = await chromium.launchServer(launchOptions(runDir, timeoutMs));
  const pid = server.process().pid;
  trackGroup(pid);
  return {
    wsEndpoint: server.wsEndpoint(),
    async close() {
      await withTimeout(server.close(), 10000, 'closing Chromium').catch(() => {});
      await stopGroup(pid, 2000);
    },
  };
}

module.exports = { CHROMIUM_ARGS, launchChromium, launchChromiumServer };
