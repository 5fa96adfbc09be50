// Starts and stops one code-server (a real VS Code 1.139 with a Node extension host) for a test tier:
// fresh profile, XDG folders and workspace under `.vscode-test/runs/<name>/`, its own process group.
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const http = require('http');
const path = require('path');
const { locateHost, missingHostError, freshRunDir } = require('./paths');
const { trackGroup, stopGroup, freePort, sleep } = require('./processes');

/** User settings for a quiet, deterministic workbench (see /work/shared/vscode-host.md). */
const USER_SETTINGS = {
  'workbench.startupEditor': 'none',
  'telemetry.telemetryLevel': 'off',
  'extensions.autoUpdate': false,
  'extensions.autoCheckUpdates': false,
  'update.mode': 'none',
  'chat.disableAIFeatures': true,
  'workbench.enableExperiments': false,
  'workbench.tips.enabled': false,
  'security.workspace.trust.enabled': false,
  'git.enabled': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
};

/**
 * The folder layout of one run, and the environment that keeps code-server's writes inside it.
 * @param {string} root the project root
 * @param {string} name the run's name (a folder under .vscode-test/runs)
 */
function prepareProfile(root, name, { workspaceFrom, workspaceTrust } = {}) {
  const dir = freshRunDir(root, name);
  const p = {
    dir,
    userData: path.join(dir, 'user-data'),
    extensions: path.join(dir, 'extensions'),
    workspace: path.join(dir, 'workspace'),
    log: path.join(dir, 'code-server.log'),
  };
  for (const d of [p.userData, p.extensions, p.workspace, ...['config', 'data', 'cache', 'tmp'].map((x) => path.join(dir, 'xdg', x))]) {
    fs.mkdirSync(d, { recursive: true });
  }
  fs.mkdirSync(path.join(p.userData, 'User'), { recursive: true });
  // With workspace trust on, the workspace opens in restricted mode without asking (nobody answers the dialog).
  const settings = workspaceTrust ? { ...USER_SETTINGS, 'security.workspace.trust.enabled': true, 'security.workspace.trust.startupPrompt': 'never' } : USER_SETTINGS;
  fs.writeFileSync(path.join(p.userData, 'User', 'settings.json'), JSON.stringify(settings, null, 2));
  if (workspaceFrom) fs.cpSync(workspaceFrom, p.workspace, { recursive: true });
  else fs.writeFileSync(path.join(p.workspace, 'README.md'), '# Test workspace\n\nCreated by the Batch Prompt test run.\n');
  p.env = {
    ...process.env,
    XDG_CONFIG_HOME: path.join(dir, 'xdg', 'config'),
    XDG_DATA_HOME: path.join(dir, 'xdg', 'data'),
    XDG_CACHE_HOME: path.join(dir, 'xdg', 'cache'),
    XDG_RUNTIME_DIR: path.join(dir, 'xdg', 'tmp'),
  };
  // Variables an outer VS Code session sets would point the host at that session.
  delete p.env.VSCODE_IPC_HOOK_CLI;
  delete p.env.ELECTRON_RUN_AS_NODE;
  return p;
}

function profileArgs(p) {
  return ['--user-data-dir', p.userData, '--extensions-dir', p.extensions];
}

/** Installs a packaged extension into the profile (`code-server --install-extension`), bounded. */
function installExtension(host, p, vsix, timeoutMs = 60000) {
  const r = spawnSync(host.node, [host.entry, ...profileArgs(p), '--install-extension', vsix, '--force'], {
    env: p.env,
    encoding: 'utf8',
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
  });
  fs.appendFileSync(p.log, `--- install-extension ${vsix}\n${r.stdout}${r.stderr}\n`);
  if (r.status !== 0) {
    throw new Error(`code-server --install-extension ${vsix} failed (${r.error ? r.error.message : `exit ${r.status}`}):\n${r.stdout}${r.stderr}`);
  }
}

function healthz(port) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/healthz', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/**
 * Starts code-server on a free port and waits for /healthz.
 * @param {object} opts
 * @param {string} opts.root project root
 * @param {string} opts.name run name (its folder under .vscode-test/runs)
 * @param {boolean} [opts.smokeTestDriver] pass `--vscode-option enable-smoke-test-driver` (needed for the
 *   extensionDevelopmentPath/extensionTestsPath payload; hides notification toasts)
 * @param {string[]} [opts.installExtensions] .vsix files to install into the fresh profile first
 * @param {string} [opts.workspaceFrom] a folder copied into the workspace (default: a README only)
 * @param {boolean} [opts.workspaceTrust] keep VS Code's workspace trust on: the workspace, never trusted
 *   in this fresh profile, opens untrusted (restricted mode); by default trust is disabled
 * @param {number} [opts.startTimeoutMs]
 * @returns {Promise<{url: string, port: number, profile: object, pid: number, stop: () => Promise<void>, exited: () => boolean}>}
 */
async function startCodeServer(opts) {
  const host = locateHost();
  if (!host) throw missingHostError();
  const p = prepareProfile(opts.root, opts.name, opts);
  for (const vsix of opts.installExtensions || []) installExtension(host, p, vsix);

  const port = await freePort();
  const args = [
    host.entry,
    '--auth', 'none',
    '--bind-addr', `127.0.0.1:${port}`,
    ...profileArgs(p),
    '--disable-telemetry',
    '--disable-update-check',
    ...(opts.workspaceTrust ? [] : ['--disable-workspace-trust']),
    '--disable-getting-started-override',
    ...(opts.smokeTestDriver ? ['--vscode-option', 'enable-smoke-test-driver'] : []),
    p.workspace,
  ];
  const logFd = fs.openSync(p.log, 'a');
  // detached: a new session and process group (setsid), so stop() can kill every descendant.
  const child = spawn(host.node, args, { cwd: p.dir, env: p.env, detached: true, stdio: ['ignore', logFd, logFd] });
  fs.closeSync(logFd);
  trackGroup(child.pid);
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });

  const server = {
    url: `http://127.0.0.1:${port}`,
    port,
    profile: p,
    pid: child.pid,
    exited: () => exited,
    stop: () => stopGroup(child.pid),
  };
  const deadline = Date.now() + (opts.startTimeoutMs || 30000);
  while (!(await healthz(port))) {
    if (exited || Date.now() > deadline) {
      await server.stop();
      const tail = fs.readFileSync(p.log, 'utf8').split('\n').slice(-30).join('\n');
      throw new Error(`code-server did not become healthy on port ${port} (${exited ? 'it exited' : 'timed out'}); log ${p.log}:\n${tail}`);
    }
    await sleep(200);
  }
  return server;
}

/** The `vscode-remote://` form of a local absolute path, as the server at `port` sees it. */
function remoteUri(port, absPath) {
  return `vscode-remote://127.0.0.1:${port}${absPath.split(path.sep).map(encodeURIComponent).join('/')}`;
}

module.exports = { startCodeServer, remoteUri, healthz, USER_SETTINGS };
