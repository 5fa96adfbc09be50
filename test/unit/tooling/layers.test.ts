// The layer rules of .dependency-cruiser.cjs (`npm run lint:deps`, in npm test's lint step): each rule
// fires, by name, on a violation planted in a throw-away tree; nothing fires on what the layers allow;
// and the real src/ has no violation at all.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import { createRequire } from 'module';
import * as os from 'os';
import * as path from 'path';

const root = path.resolve(__dirname, '../../../..');
const config = path.join(root, '.dependency-cruiser.cjs');

interface Violation {
  from: string;
  to: string;
  rule: { name: string; severity: string };
}

/**
 * The cruiser's CLI: in the project's node_modules, else in a folder of NODE_PATH. Missing, it fails
 * the test (never skips it): without it `npm test` would not check the layers at all.
 */
function cruiserBin(): string {
  const folders = [path.join(root, 'node_modules'), ...(process.env.NODE_PATH ?? '').split(path.delimiter).filter(Boolean)];
  for (const folder of folders) {
    const bin = path.join(folder, 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
    if (fs.existsSync(bin)) return bin;
  }
  return assert.fail(
    `dependency-cruiser is missing (looked in ${folders.join(', ')}): it is a devDependency, run \`npm install\`. ` +
      'Without it the layer rules (.dependency-cruiser.cjs) are not checked.',
  );
}

/** Cruises `src` under `cwd` with the project's config; returns the violations. */
function cruise(cwd: string): Violation[] {
  const r = spawnSync(process.execPath, [cruiserBin(), '--config', config, '--output-type', 'json', 'src'], {
    cwd,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  let result: { summary: { violations: Violation[] } };
  try {
    result = JSON.parse(r.stdout);
  } catch {
    return assert.fail(`dependency-cruiser gave no report (exit ${r.status}):\n${r.stderr}`);
  }
  return result.summary.violations;
}

const show = (vs: Violation[]) => vs.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`).sort();

/** Each planted violation, and files that import only what their layer allows. */
const fixture: Record<string, string> = {
  'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'preserve', moduleResolution: 'bundler', strict: true, noEmit: true }, include: ['src'] }),
  // Allowed: util imports nothing of ours; core imports util; providers import core; the front ends
  // import everything below them; 'vscode' in the editor layer and the Language Model API provider.
  'src/util/ok.ts': `export const u = 1;\n`,
  'src/core/ok.ts': `import { u } from '../util/ok';\nexport const c = u;\n`,
  'src/providers/p.ts': `import { c } from '../core/ok';\nexport interface P { c: typeof c }\n`,
  'src/providers/languageModelApi.ts': `import * as vscode from 'vscode';\nexport const lm = vscode;\n`,
  'src/cli/helper.ts': `import type { P } from '../providers/p';\nexport const h = (p: P) => p;\n`,
  'src/cli.ts': `import { h } from './cli/helper';\nexport const main = h;\n`,
  'src/vscode/view.ts': `import * as vscode from 'vscode';\nimport { c } from '../core/ok';\nexport const view = [vscode, c];\n`,
  'src/extension.ts': `import * as vscode from 'vscode';\nimport { view } from './vscode/view';\nexport const ext = [vscode, view];\n`,
  // Planted, one per rule.
  'src/core/cycleA.ts': `import { b } from './cycleB';\nexport const a = () => b;\n`,
  'src/core/cycleB.ts': `import { a } from './cycleA';\nexport const b = () => a;\n`,
  'src/util/up.ts': `import { c } from '../core/ok';\nexport const up = c;\n`,
  // A type-only import counts like any other.
  'src/core/typeOnly.ts': `import type { P } from '../providers/p';\nexport type Q = P;\n`,
  'src/providers/up.ts': `import { h } from '../cli/helper';\nexport const pu = h;\n`,
  'src/cli/main.ts': `import { view } from '../vscode/view';\nexport const m = view;\n`,
  'src/vscode/other.ts': `import { h } from '../cli/helper';\nexport const o = h;\n`,
  'src/core/editor.ts': `import * as vscode from 'vscode';\nexport const e = vscode;\n`,
  'src/core/typo.ts': `import { x } from './missing';\nexport const t = x;\n`,
};

const expected = [
  'cli-never-imports-vscode: src/cli/main.ts → src/vscode/view.ts',
  'core-imports-only-util-and-core: src/core/typeOnly.ts → src/providers/p.ts',
  'no-circular: src/core/cycleA.ts → src/core/cycleB.ts',
  'not-to-unresolvable: src/core/typo.ts → ./missing',
  'providers-import-only-util-core-providers: src/providers/up.ts → src/cli/helper.ts',
  'util-imports-nothing-of-ours: src/util/up.ts → src/core/ok.ts',
  'vscode-never-imports-cli: src/vscode/other.ts → src/cli/helper.ts',
  'vscode-only-in-the-editor-layer: src/core/editor.ts → vscode',
];

describe('Layers (.dependency-cruiser.cjs)', function () {
  this.timeout(120_000);

  it('fires each rule by name on a planted violation, and nothing on what the layers allow', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-prompt-layers-'));
    try {
      for (const [file, text] of Object.entries(fixture)) {
        fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
        fs.writeFileSync(path.join(dir, file), text);
      }
      const found = show(cruise(dir));
      // A circle is reported once, from whichever of its modules the cruiser meets first.
      const normalized = found.map((v) => v.replace('no-circular: src/core/cycleB.ts → src/core/cycleA.ts', 'no-circular: src/core/cycleA.ts → src/core/cycleB.ts'));
      assert.deepStrictEqual([...new Set(normalized)].sort(), expected);
      // Every rule of the config is exercised by the fixture.
      const rules = (createRequire(__filename)(config) as { forbidden: { name: string }[] }).forbidden.map((r) => r.name).sort();
      assert.deepStrictEqual([...new Set(expected.map((e) => e.split(':')[0]))].sort(), rules);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('finds no violation in src/', () => {
    assert.deepStrictEqual(show(cruise(root)), []);
  });
});
