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

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/**
 * A fresh folder for one run of one tier, `.vscode-test/runs/<name>-<pid>/` in the project's ignored
 * folder. The pid keeps runs started at the same time in one working tree apart; folders of earlier
 * runs whose process has ended are removed first (so a run's logs stay until the next run).
 */
function freshRunDir(root, name) {
  const runs = path.join(root, '.vscode-test', 'runs');
  fs.mkdirSync(runs, { recursive: true });
  for (const entry of fs.readdirSync(runs)) {
    const m = new RegExp(`^${name}-(\\d+)$`).exec(entry);
    if (m && (Number(m[1]) === process.pid || !alive(Number(m[1])))) fs.rmSync(path.join(runs, entry), { recursive: true, force: true });
  }
  const dir = path.join(runs, `${name}-${process.pid}`);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

module.exports = { CODE_SERVER_VERSION, CHROMIUM, cacheRoots, locateHost, missingHostError, freshRunDir };
