// Integration tier: mocha inside the real extension host of code-server, the extension loaded from the
// working tree (dist/ and out/test/integration/ built by `node esbuild.js --tests`). See
// scripts/vscode-host/extensionTests.js for how the run is driven and how the counts come back.
const fs = require('fs');
const path = require('path');
const { runExtensionTests } = require('../vscode-host/extensionTests');
const { locateHost, missingHostError } = require('../vscode-host/paths');

/** @returns {Promise<{passed:number, failed:number, skipped:number, pending?:string[], tierSkipped?:string}>} */
exports.run = async function run(root) {
  // scripts/test.js decides what a skipped tier means (a failure in CI; see the comment at its top).
  if (process.env.BATCH_PROMPT_SKIP_HOST_TIERS) return { passed: 0, failed: 0, skipped: 0, pending: [], tierSkipped: 'BATCH_PROMPT_SKIP_HOST_TIERS is set' };
  if (!locateHost()) throw missingHostError();
  const testsPath = path.join(root, 'out/test/integration/suite/index.js');
  if (!fs.existsSync(testsPath)) throw new Error(`${testsPath} is missing: run \`node esbuild.js --tests\``);
  // Test selection and timeouts reach the extension host through its environment.
  const extensionEnvironment = {};
  for (const k of ['BATCH_PROMPT_TEST_GREP', 'BATCH_PROMPT_TEST_TIMEOUT_MS']) if (process.env[k]) extensionEnvironment[k] = process.env[k];
  // A test-only manifest beside the extension: VS Code accepts a language model provider only for a
  // vendor some manifest contributes, and the product's own manifest must not (languageModelApi.test.ts).
  const companionExtensions = [path.join(root, 'test/fixtures/lm-provider-extension')];
  const r = await runExtensionTests({ root, testsPath, name: 'integration', extensionEnvironment, companionExtensions });
  console.log(`  integration: exit code ${r.exitCode}, ${r.seconds.toFixed(1)} s, peak memory (PSS) of the processes it started ${r.peakMemoryMB} MB, logs in ${path.relative(root, r.runDir)}`);
  // A second host with workspace trust on: a workspace that is untrusted, whose settings try to widen
  // what is read and sent (test/integration-untrusted, its workspace from test/fixtures/untrusted-workspace).
  const untrustedPath = path.join(root, 'out/test/integration-untrusted/suite/index.js');
  if (!fs.existsSync(untrustedPath)) throw new Error(`${untrustedPath} is missing: run \`node esbuild.js --tests\``);
  const u = await runExtensionTests({ root, testsPath: untrustedPath, name: 'integration-untrusted', extensionEnvironment, workspaceFrom: path.join(root, 'test/fixtures/untrusted-workspace'), workspaceTrust: true });
  console.log(`  integration (untrusted workspace): exit code ${u.exitCode}, ${u.seconds.toFixed(1)} s, logs in ${path.relative(root, u.runDir)}`);
  return { passed: r.passed + u.passed, failed: r.failed + u.failed, skipped: r.skipped + u.skipped, pending: [...r.pending, ...u.pending] };
};
