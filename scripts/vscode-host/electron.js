#!/usr/bin/env node
// `npm run test:electron`: the same integration suite (out/test/integration/suite/index.js) in a desktop
// VS Code that @vscode/test-electron downloads into .vscode-test/ (the classic route). It needs access to
// update.code.visualstudio.com, so it cannot run on the CI machines, where the integration tier runs
// the suite in code-server instead (scripts/tiers/integration.js).
//   VSCODE_VERSION=1.105.0   the VS Code version to download (default: the oldest one engines.vscode allows)
//   VSCODE_EXECUTABLE=path   use an installed VS Code instead of downloading
const fs = require('fs');
const path = require('path');
const { runTests } = require('@vscode/test-electron');

const root = path.resolve(__dirname, '../..');

async function main() {
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const version = process.env.VSCODE_VERSION || String(manifest.engines.vscode).replace(/^[\^~>=]+/, '');
  const workspace = path.join(root, '.vscode-test', 'runs', 'electron', 'workspace');
  fs.rmSync(path.dirname(workspace), { recursive: true, force: true });
  fs.mkdirSync(workspace, { recursive: true });
  const code = await runTests({
    ...(process.env.VSCODE_EXECUTABLE ? { vscodeExecutablePath: process.env.VSCODE_EXECUTABLE } : { version }),
    extensionDevelopmentPath: root,
    extensionTestsPath: path.join(root, 'out/test/integration/suite/index.js'),
    launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust', '--skip-welcome', '--skip-release-notes'],
    timeout: 60000,
  });
  process.exit(code);
}

main().catch((e) => {
  console.error(`test:electron failed: ${e && e.message ? e.message : e}`);
  process.exit(1);
});
