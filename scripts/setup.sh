#!/usr/bin/env bash
# Installs what the project needs on a fresh machine (npm registry and Debian packages only).
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund
# The real VS Code (code-server), Node 24 and Chromium for the integration and UI tiers; cached
# outside the clone, so a second run on the same machine takes a second.
bash scripts/setup-vscode-host.sh
