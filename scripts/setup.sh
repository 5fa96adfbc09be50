#!/usr/bin/env bash
# Installs what the project needs on a fresh machine (npm registry and Debian packages only).
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund
