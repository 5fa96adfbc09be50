// Where the test host (code-server, its Node 24, Chromium) is installed and where a test run writes.
// scripts/setup-vscode-host.sh installs the host; keep CODE_SERVER_VERSION and the cache roots in step.
const fs = require('fs');
const os = require('os');
const path = require('path');

const CODE_SERVER_VERSION = '4.139.1';
const CHROMIUM = process.env.BATCH_PROMPT_CHROMIUM || '/usr/bin/chromium';

/** Cache roots in the order the set-up script picks them. */
function cacheRoots() {
  const xdgCache = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return [process.env.BATCH_PROMPT_CACHE_DIR, '/var/cache/batch-prompt', path.join(xdgCache, 'batch-prompt')].filter(Boolean);
}

/**
 * The installed host, or null when the set-up script has not completed (its marker is missing).
 * @returns {{dir: string, node: string, entry: string, chromium: string} | null}
 */
function locateHost() {
  for (const root of cacheRoots()) {
    const dir = path.join(root, `vscode-host-${CODE_SERVER_VERSION}`);
    if (!fs.existsSync(path.join(dir, '.installed'))) continue;
    return {
      dir,
      node: path.join(dir, 'node/bin/node'),
      entry: path.join(dir, 'code-server/lib/node_modules/code-server/out/node/entry.js'),
      chromium: CHROMIUM,
    };
  }
  return null;
}

/** Explains how to install the host; thrown by the tiers when it is missing. */
function missingHostError() {
  return new Error(
    `the VS Code test host (code-server ${CODE_SERVER_VERSION}) is not installed; run ` +
      '`bash scripts/setup-vscode-host.sh` (looked in ' + cacheRoots().join(', ') + '), ' +
      'or set BATCH_PROMPT_SKIP_HOST_TIERS=1 to skip the integration and UI tiers',
  );
}

/**
 * A fresh folder for one run of one tier under the project's ignored `.vscode-test/` folder; the
 * previous run's folder of that name is removed first (its logs stay until the next run).
 */
function freshRunDir(root, name) {
  const dir = path.join(root, '.vscode-test', 'runs', name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

module.exports = { CODE_SERVER_VERSION, CHROMIUM, cacheRoots, locateHost, missingHostError, freshRunDir };
