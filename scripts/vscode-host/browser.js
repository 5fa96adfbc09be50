// Debian's Chromium driven by playwright-core (the `playwright` package's browser download cannot run
// here). Playwright starts the browser in its own process group and kills it when this process exits.
const { locateHost } = require('./paths');

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

/** Launches headless Chromium; `timeoutMs` bounds the launch. */
async function launchChromium({ timeoutMs = 30000 } = {}) {
  const { chromium } = require('playwright-core');
  const host = locateHost();
  return chromium.launch({
    executablePath: host ? host.chromium : '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
    timeout: timeoutMs,
    headless: true,
  });
}

module.exports = { CHROMIUM_ARGS, launchChromium };
