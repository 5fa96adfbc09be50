// Debian's Chromium driven by playwright-core (the `playwright` package's browser download cannot run
// here). Playwright starts the browser in its own process group and kills it when this process exits.
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

function launchOptions(timeoutMs) {
  const host = locateHost();
  return { executablePath: host ? host.chromium : CHROMIUM, args: CHROMIUM_ARGS, timeout: timeoutMs, headless: true };
}

/** Launches headless Chromium in this process; `timeoutMs` bounds the launch. */
async function launchChromium({ timeoutMs = 30000 } = {}) {
  const { chromium } = require('playwright-core');
  return chromium.launch(launchOptions(timeoutMs));
}

/**
 * Launches headless Chromium as a server that tests attach to with `chromium.connect(wsEndpoint)`.
 * The browser's process group is tracked, so it is killed at exit even if close() is never reached.
 * @returns {Promise<{wsEndpoint: string, close: () => Promise<void>}>}
 */
async function launchChromiumServer({ timeoutMs = 30000 } = {}) {
  const { chromium } = require('playwright-core');
  const server = await chromium.launchServer(launchOptions(timeoutMs));
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
