#!/usr/bin/env node
// `npm start`: try the extension in a real VS Code (code-server) in the browser, on a copy of sample/.
// Builds and packages the .vsix, makes sure the host is installed (scripts/setup-vscode-host.sh,
// cached), installs the .vsix into a profile kept in .vscode-test/try/ (reused by later starts), writes
// the try-out's model endpoint into that profile's user settings, starts code-server on 127.0.0.1 and
// prints the URL. Ctrl-C stops everything it started. Options: scripts/startOptions.js (USAGE).
const { spawn, spawnSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const net = require('net');
const path = require('path');
const { locateHost, missingHostError } = require('./vscode-host/paths');
const { groupAlive, stopGroup, freePort, sleep } = require('./vscode-host/processes');
const { healthz, USER_SETTINGS } = require('./vscode-host/server');
const { startSampleModel, sampleEndpoint } = require('./sampleModel');
const { sampleContents, writeSampleFiles } = require('./sampleWorkspace');
const opts = require('./startOptions');

const root = path.resolve(__dirname, '..');
const TRY = path.join(root, '.vscode-test', 'try');
const SAMPLE = path.join(root, 'sample');
const VSIX = path.join(root, 'batch-prompt.vsix');
const P = {
  userData: path.join(TRY, 'user-data'),
  extensions: path.join(TRY, 'extensions'),
  workspace: path.join(TRY, 'sample'),
  xdg: path.join(TRY, 'xdg'),
  log: path.join(TRY, 'code-server.log'),
  state: path.join(TRY, 'state.json'),
  lock: path.join(TRY, 'running.json'),
};
const settingsFile = path.join(P.userData, 'User', 'settings.json');

/**
 * The try-out profile's baseline settings: the test tiers' quiet workbench, but the sample's README
 * opens first and AI features stay on (so Language Model API models, if any, are offered). Added
 * only where the user has not set the key.
 */
const TRY_SETTINGS = { ...USER_SETTINGS, 'workbench.startupEditor': 'readme' };
delete TRY_SETTINGS['chat.disableAIFeatures'];

const started = Date.now();
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;
function step(msg) {
  console.log(`[start ${secs(Date.now() - started).padStart(6)}] ${msg}`);
}

function fail(msg) {
  console.error(`\nnpm start: ${msg}`);
  process.exit(1);
}

function readJson(file, fallback) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return fallback;
  }
}

function writeJson(file, value) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

/**
 * The environment without what `npm start` (npm's run-script) adds: the host set-up runs its own npm
 * under Node 24, and an inherited npm_config_user_agent ("node/v20") makes code-server's postinstall
 * refuse to install; npm_config_prefix and the lifecycle variables would mislead it too.
 */
function withoutNpmScriptEnv() {
  const env = { ...process.env };
  for (const k of Object.keys(env)) {
    if (/^npm_(config_(user_agent|node_gyp|prefix|global_prefix|local_prefix)|lifecycle_|package_|execpath$|node_execpath$|command$)/.test(k)) delete env[k];
  }
  return env;
}

/** Runs a command; its output is shown when it fails, or always with `inherit`. Exits when it fails. */
function run(cmd, args, what, { inherit = false, env = process.env } = {}) {
  const r = spawnSync(cmd, args, { cwd: root, env, stdio: inherit ? 'inherit' : 'pipe', encoding: 'utf8' });
  if (r.status !== 0) {
    if (!inherit) process.stderr.write(`${r.stdout || ''}${r.stderr || ''}`);
    fail(`${what} failed (${r.error ? r.error.message : r.signal || `exit ${r.status}`}).`);
  }
}

/** Refuses a second `npm start` on the same profile while the first still serves it. */
function checkNotRunning() {
  const lock = readJson(P.lock, null);
  if (lock && lock.pid && lock.pid !== process.pid && (() => {
    try {
      process.kill(lock.pid, 0);
      return true;
    } catch (e) {
      return e.code === 'EPERM';
    }
  })()) {
    fail(`another \`npm start\` (pid ${lock.pid}) is using this profile${lock.url ? ` at ${lock.url}` : ''}: open that, or stop it first.`);
  }
}

function canListen(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

async function choosePort(requested) {
  if (requested) {
    if (!(await canListen(requested))) fail(`port ${requested} on 127.0.0.1 is in use; pass another --port, or none.`);
    return requested;
  }
  return (await canListen(opts.DEFAULT_PORT)) ? opts.DEFAULT_PORT : freePort();
}

/** What a local Ollama answers on /api/tags (a short timeout: most machines have none). */
function probeOllama() {
  return new Promise((resolve) => {
    const req = http.get(`${opts.OLLAMA_URL}/api/tags`, { timeout: 800 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => {
        try {
          const models = (JSON.parse(body).models || []).map((m) => m.name).filter(Boolean);
          resolve({ answered: res.statusCode === 200, models });
        } catch {
          resolve({ answered: false, models: [] });
        }
      });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ answered: false, models: [] }));
  });
}

/** Copies sample/ (and the generated large file) into the try-out workspace; keeps the user's edits. */
function syncWorkspace(state) {
  const contents = sampleContents(SAMPLE);
  const sample = {};
  const copy = {};
  for (const [rel, buf] of Object.entries(contents)) {
    sample[rel] = sha256(buf);
    const target = path.join(P.workspace, rel);
    copy[rel] = fs.existsSync(target) ? sha256(fs.readFileSync(target)) : undefined;
  }
  const plan = opts.planWorkspaceSync(sample, copy, state.workspace || {});
  writeSampleFiles(contents, P.workspace, plan.copy);
  state.workspace = plan.recorded;
  return plan;
}

/** The environment that keeps code-server's writes in the profile folder. */
function hostEnv() {
  const env = { ...process.env };
  for (const x of ['config', 'data', 'cache']) env[`XDG_${x.toUpperCase()}_HOME`] = path.join(P.xdg, x);
  env.XDG_RUNTIME_DIR = path.join(P.xdg, 'tmp');
  for (const x of ['config', 'data', 'cache', 'tmp']) fs.mkdirSync(path.join(P.xdg, x), { recursive: true });
  // Variables an outer VS Code session sets would point the host at that session.
  delete env.VSCODE_IPC_HOOK_CLI;
  delete env.ELECTRON_RUN_AS_NODE;
  // Keys stay out of the code-server process: the extension reads keys from secret storage only.
  for (const v of Object.values(opts.KEY_ENV)) delete env[v];
  return env;
}

function profileArgs() {
  return ['--user-data-dir', P.userData, '--extensions-dir', P.extensions];
}

/** Installs the .vsix unless this exact package is already installed in the profile. */
function installExtension(host, env, state) {
  const hash = sha256(opts.vsixContentId(fs.readFileSync(VSIX)));
  const manifest = readJson(path.join(root, 'package.json'), {});
  const dir = path.join(P.extensions, `${manifest.publisher}.${manifest.name}-${manifest.version}`);
  if (state.vsix === hash && fs.existsSync(path.join(dir, 'package.json'))) return false;
  const r = spawnSync(host.node, [host.entry, ...profileArgs(), '--install-extension', VSIX, '--force'], {
    env,
    encoding: 'utf8',
    timeout: 120000,
    killSignal: 'SIGKILL',
  });
  fs.appendFileSync(P.log, `--- install-extension ${VSIX}\n${r.stdout}${r.stderr}\n`);
  if (r.status !== 0) fail(`code-server --install-extension failed (${r.error ? r.error.message : `exit ${r.status}`}):\n${r.stdout}${r.stderr}`);
  state.vsix = hash;
  return true;
}

/** Writes the baseline settings and the try-out's endpoint; returns the user's own endpoints kept. */
function writeSettings(state, models) {
  let current = {};
  if (fs.existsSync(settingsFile)) {
    try {
      current = opts.parseJsonc(fs.readFileSync(settingsFile, 'utf8'));
    } catch (e) {
      console.warn(`  ${path.relative(root, settingsFile)} is not valid JSON (${e.message}); left as it is.`);
      return null;
    }
  }
  const { settings, userEndpoints } = opts.updateUserSettings(current, { baseline: TRY_SETTINGS, models, previous: state.models || [] });
  if (JSON.stringify(settings) !== JSON.stringify(current) || !fs.existsSync(settingsFile)) writeJson(settingsFile, settings);
  state.models = models;
  return userEndpoints;
}

async function main() {
  let args;
  try {
    args = opts.parseStartArgs(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof opts.UsageError)) throw e;
    console.error(`npm start: ${e.message}\n\n${opts.USAGE}`);
    process.exit(2);
  }
  if (args.help) {
    console.log(opts.USAGE);
    return;
  }
  if (args.port) await choosePort(args.port); // a taken --port fails before the build, not after
  fs.mkdirSync(TRY, { recursive: true });
  checkNotRunning();
  writeJson(P.lock, { pid: process.pid, url: null });
  process.on('exit', () => {
    const lock = readJson(P.lock, null);
    if (lock && lock.pid === process.pid) fs.rmSync(P.lock, { force: true });
  });
  if (args.fresh) {
    step('--fresh: removing the previous profile and workspace copy');
    for (const d of [P.userData, P.extensions, P.workspace, P.xdg, P.state]) fs.rmSync(d, { recursive: true, force: true });
  }

  step('building and packaging the extension (npm run package)');
  run('npm', ['run', 'package'], 'npm run package');
  if (!fs.existsSync(VSIX)) fail(`npm run package did not write ${VSIX}.`);

  step('checking the VS Code host (scripts/setup-vscode-host.sh; minutes the first time, then cached)');
  run('bash', [path.join(root, 'scripts', 'setup-vscode-host.sh')], 'scripts/setup-vscode-host.sh', { inherit: true, env: withoutNpmScriptEnv() });
  const host = locateHost();
  if (!host) throw missingHostError();

  const state = readJson(P.state, {});
  fs.mkdirSync(path.join(P.userData, 'User'), { recursive: true });
  fs.mkdirSync(P.extensions, { recursive: true });
  fs.writeFileSync(P.log, '');
  const env = hostEnv();

  step(`installing the .vsix into the profile in ${path.relative(root, TRY)}/`);
  step(installExtension(host, env, state) ? '  installed' : '  this package is already installed: skipped');

  const sync = syncWorkspace(state);
  step(`workspace: ${path.relative(root, P.workspace)}/ (a copy of sample/; ${sync.copy.length} file(s) copied${sync.kept.length ? `, ${sync.kept.length} you changed kept` : ''})`);
  if (sync.kept.length) console.log(`  kept your changes to ${sync.kept.join(', ')} (--fresh starts over)`);

  if (args.sampleModel) {
    // Served by this process: it stops with Ctrl-C like the rest. Its answers are canned (scripts/sampleModel.js).
    const { baseUrl } = await startSampleModel();
    args.endpoint = sampleEndpoint(baseUrl);
    step(`sample model (canned answers) on ${baseUrl}`);
  }
  const ollama = args.endpoint ? { answered: false, models: [] } : await probeOllama();
  const userEndpoints = writeSettings(state, args.endpoint ? [args.endpoint] : []);
  if (userEndpoints === null && args.endpoint) fail(`could not write the endpoint into ${settingsFile}: fix that file, or start with --fresh.`);
  const choice = opts.chooseModels({ endpoint: args.endpoint, env: process.env, ollama, userEndpoints: userEndpoints || 0 });
  writeJson(P.state, state);

  const port = await choosePort(args.port);
  const url = `http://127.0.0.1:${port}/?folder=${P.workspace.split(path.sep).map(encodeURIComponent).join('/')}`;
  step(`starting code-server on 127.0.0.1:${port}`);
  const logFd = fs.openSync(P.log, 'a');
  // detached: its own session and process group (setsid), stopped as a group with every descendant.
  const child = spawn(
    host.node,
    [
      host.entry,
      '--auth', 'none',
      '--bind-addr', `127.0.0.1:${port}`,
      ...profileArgs(),
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      P.workspace,
    ],
    { cwd: TRY, env, detached: true, stdio: ['ignore', logFd, logFd] },
  );
  fs.closeSync(logFd);
  const pid = child.pid;
  let exited = false;
  let stopping = false;
  child.on('exit', () => {
    exited = true;
  });
  // Safety net: whatever ends this process, the group goes with it.
  process.on('exit', () => {
    if (groupAlive(pid)) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      console.log(`\n${signal === 'SIGINT' ? 'Ctrl-C' : signal}: stopping code-server (process group ${pid})…`);
      stopGroup(pid, 5000).then(() => {
        console.log('Stopped. `npm start` again reuses the profile and takes seconds.');
        process.exit(0);
      });
    });
  }

  const deadline = Date.now() + 60000;
  while (!(await healthz(port))) {
    if (exited || Date.now() > deadline) {
      await stopGroup(pid, 2000);
      const tail = fs.readFileSync(P.log, 'utf8').split('\n').slice(-30).join('\n');
      fail(`code-server did not answer on port ${port} (${exited ? 'it exited' : 'timed out'}); log ${P.log}:\n${tail}`);
    }
    await sleep(150);
  }
  writeJson(P.lock, { pid: process.pid, url });

  const took = Date.now() - started;
  console.log(`
Batch Prompt is running in VS Code (code-server), ready in ${secs(took)}:

    ${url}

Open it in a browser. The Batch Prompt icon is in the activity bar; right-click a folder in the
Explorer for "Run Prompt on Selection…", or press F1 and type "Batch Prompt". sample/README.md (open
at first) lists things to try.
`);
  for (const line of choice.lines) console.log(`  ${line}`);
  console.log(`
  Workspace copy: ${path.relative(root, P.workspace)}/ (runs write there, not into sample/)
  Log:            ${path.relative(root, P.log)}
Ctrl-C stops it.`);

  while (!exited) await sleep(500);
  if (!stopping) {
    const tail = fs.readFileSync(P.log, 'utf8').split('\n').slice(-20).join('\n');
    fail(`code-server exited on its own; log ${P.log}:\n${tail}`);
  }
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
