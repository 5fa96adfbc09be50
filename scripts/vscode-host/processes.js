// Process-group bookkeeping for the test host: everything a tier starts runs in its own process group
// (spawned detached = setsid) and is killed as a group, on success, on failure, on Ctrl-C and at exit.
// code-server's file watcher and extension host outlive a plain kill of its main process.
const fs = require('fs');
const net = require('net');

/** Leaders (pids) of the process groups started and not yet stopped. */
const groups = new Set();
let handlersInstalled = false;

function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

function groupAlive(pid) {
  return signalGroup(pid, 0);
}

function killAllNow() {
  for (const pid of groups) signalGroup(pid, 'SIGKILL');
  groups.clear();
}

function installHandlers() {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', killAllNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(signal, () => {
      console.error(`\n[vscode-host] ${signal}: stopping ${groups.size} process group(s)`);
      killAllNow();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
}

/** Registers the process group led by `pid` for killing at exit. */
function trackGroup(pid) {
  installHandlers();
  groups.add(pid);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Stops the group led by `pid`: SIGTERM, then SIGKILL after `graceMs`; resolves when it is gone. */
async function stopGroup(pid, graceMs = 5000) {
  if (!pid) return;
  signalGroup(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (groupAlive(pid) && Date.now() < deadline) await sleep(100);
  if (groupAlive(pid)) {
    signalGroup(pid, 'SIGKILL');
    const killDeadline = Date.now() + 3000;
    while (groupAlive(pid) && Date.now() < killDeadline) await sleep(100);
  }
  groups.delete(pid);
}

/** A TCP port free on 127.0.0.1 right now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Rejects with `message` if `promise` does not settle within `ms`. */
function withTimeout(promise, ms, message) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} (timed out after ${Math.round(ms / 1000)} s)`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Proportional set size (bytes) of `pid` (shared pages split between their users), else its RSS. */
function memoryOf(pid, rssPages) {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // no smaps_rollup (old kernel) or the process ended
  }
  return rssPages * 4096;
}

/** Memory (bytes, PSS) of every descendant of this process, from /proc (0 where /proc is absent). */
function descendantsMemory() {
  let entries;
  try {
    entries = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return 0;
  }
  const parent = new Map();
  const rssPages = new Map();
  for (const pid of entries) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(pid), Number(fields[1]));
      rssPages.set(Number(pid), Number(fields[21]));
    } catch {
      // the process ended while we looked
    }
  }
  let total = 0;
  for (const [pid, pages] of rssPages) {
    for (let p = parent.get(pid); p; p = parent.get(p)) {
      if (p === process.pid) {
        total += memoryOf(pid, pages);
        break;
      }
    }
  }
  return total;
}

/** Samples descendantsMemory() every second until stop(); stop() returns the peak in MB. */
function memorySampler() {
  let peak = 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, descendantsMemory());
  }, 1000);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      peak = Math.max(peak, descendantsMemory());
      return Math.round(peak / 1024 / 1024);
    },
  };
}

module.exports = { trackGroup, stopGroup, groupAlive, freePort, withTimeout, sleep, memorySampler };
