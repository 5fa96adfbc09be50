import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';

const root = path.resolve(__dirname, '../../../..');
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

describe('package.json manifest', () => {
  it('is a VS Code extension manifest with the scripts the project documents', () => {
    assert.strictEqual(manifest.name, 'batch-prompt');
    assert.ok(manifest.engines.vscode, 'engines.vscode');
    assert.strictEqual(manifest.main, './dist/extension.js');
    for (const s of ['build', 'watch', 'check-types', 'lint', 'test', 'bench', 'package']) {
      assert.ok(manifest.scripts[s], `script ${s}`);
    }
  });

  it('never activates on "*"', () => {
    assert.ok(!(manifest.activationEvents ?? []).includes('*'));
  });

  it('activates in a workspace whose default output folder holds a findings run, so that its findings come back after a reload', () => {
    const folder = manifest.contributes.configuration.properties['batchPrompt.outputDirectory'].default as string;
    assert.ok((manifest.activationEvents as string[]).includes(`workspaceContains:${folder}/*/findings.jsonl`), JSON.stringify(manifest.activationEvents));
  });
});

import { Commands, Views } from '../../../src/vscode/base/ids';
import { ENDPOINT_LIMITS_SCHEMA, normalizeSettings, RESTRICTED_SETTINGS, SETTING_KEYS, settingsReader, SETTINGS_SCHEMA, SETTINGS_SECTION } from '../../../src/vscode/base/settingsSchema';

describe('manifest and code agree', () => {
  const contributed = manifest.contributes;

  it('every command constant is contributed, and every contributed command has a constant', () => {
    const inManifest = (contributed.commands as { command: string }[]).map((c) => c.command).sort();
    assert.deepStrictEqual(inManifest, Object.values(Commands).sort());
  });

  it('item-only commands are hidden from the palette; every menu names a contributed command', () => {
    const hidden = (contributed.menus.commandPalette as { command: string; when: string }[]).filter((m) => m.when === 'false').map((m) => m.command);
    for (const id of [Commands.retry, Commands.revealChunk, Commands.runOnSelection]) assert.ok(hidden.includes(id), `${id} hidden`);
    const known = new Set(Object.values(Commands) as string[]);
    for (const [menu, items] of Object.entries(contributed.menus as Record<string, { command: string }[]>)) {
      for (const item of items) assert.ok(known.has(item.command), `${menu} names ${item.command}`);
    }
  });

  it('the Runs view comes first, above the Unfinished Chunks view, with the container icon', () => {
    assert.deepStrictEqual(
      (contributed.views.batchPrompt as { id: string; name: string }[]).map((v) => [v.id, v.name]),
      [
        [Views.runs, 'Runs'],
        [Views.failures, 'Unfinished Chunks'],
      ],
    );
    const icon = contributed.viewsContainers.activitybar[0].icon as string;
    assert.ok(fs.existsSync(path.join(root, icon)), icon);
  });

  it('batchPrompt.outputDirectory empty means the extension\'s storage (kept empty), unset or not a string the default (#18)', () => {
    const of = (v: unknown) => normalizeSettings((k) => (k === 'outputDirectory' ? v : undefined)).outputDirectory;
    assert.strictEqual(of(''), '');
    assert.strictEqual(of('  '), '');
    assert.strictEqual(of(undefined), '.batch-prompt/runs');
    assert.strictEqual(of(3), '.batch-prompt/runs');
    assert.strictEqual(of(' out/runs '), 'out/runs');
    // Other strings keep falling back to their default when empty.
    assert.strictEqual(normalizeSettings((k) => (k === 'defaultInclude' ? '' : undefined)).defaultInclude, '**/*');
  });

  it('the settings the code reads are exactly the contributed ones, with the same defaults and bounds', () => {
    const props = contributed.configuration.properties as Record<string, { default: unknown; minimum?: number; maximum?: number; markdownDescription?: string }>;
    assert.deepStrictEqual(Object.keys(props).sort(), SETTING_KEYS.map((k) => `${SETTINGS_SECTION}.${k}`).sort());
    for (const key of SETTING_KEYS) {
      const p = props[`${SETTINGS_SECTION}.${key}`];
      const s = SETTINGS_SCHEMA[key] as { default: unknown; min?: number; max?: number; enum?: readonly unknown[] };
      assert.deepStrictEqual(p.default, s.default, `${key} default`);
      assert.strictEqual(p.minimum, s.min, `${key} minimum`);
      assert.strictEqual(p.maximum, s.max, `${key} maximum`);
      assert.deepStrictEqual((p as { enum?: unknown[] }).enum, s.enum ? [...s.enum] : undefined, `${key} enum`);
      assert.ok(p.markdownDescription, `${key} has a description`);
    }
  });

  it('the per-endpoint limits of batchPrompt.models match the item schema, and are read with their bounds', () => {
    const item = contributed.configuration.properties['batchPrompt.models'].items.properties as Record<string, { type: string; minimum?: number; maximum?: number }>;
    for (const [key, bounds] of Object.entries(ENDPOINT_LIMITS_SCHEMA) as [string, { min: number; max?: number }][]) {
      assert.strictEqual(item[key]?.type, 'integer', key);
      assert.strictEqual(item[key].minimum, bounds.min, `${key} minimum`);
      assert.strictEqual(item[key].maximum, bounds.max, `${key} maximum`);
    }
    const problems: string[] = [];
    const s = normalizeSettings((k) => (k === 'models' ? [{ id: 'a', provider: 'ollama', model: 'x', maxConcurrency: 8, requestsPerMinute: 60 }, { id: 'b', provider: 'ollama', model: 'y', maxConcurrency: 0, tokensPerMinute: 'many' }] : undefined), problems);
    assert.deepStrictEqual(s.models, [{ id: 'a', provider: 'ollama', model: 'x', maxConcurrency: 8, requestsPerMinute: 60 }, { id: 'b', provider: 'ollama', model: 'y' }]);
    assert.strictEqual(problems.length, 2, problems.join('\n'));
    assert.match(problems[0], /"maxConcurrency" must be a whole number from 1 to 64/);
  });

  it('untrusted workspaces: the manifest restricts exactly RESTRICTED_SETTINGS, among them every setting that widens what is read or sent or removes a confirmation', () => {
    const restricted = manifest.capabilities.untrustedWorkspaces.restrictedConfigurations as string[];
    assert.deepStrictEqual([...restricted].sort(), RESTRICTED_SETTINGS.map((k) => `batchPrompt.${k}`).sort());
    for (const k of ['models', 'outputDirectory', 'respectGitignore', 'confirmAbove', 'maxFileSizeKB', 'defaultInclude', 'useCache', 'dropEndpointAfterFailures', 'dropEndpointAfterWaitSeconds', 'allowParallelRuns']) {
      assert.ok(restricted.includes(`batchPrompt.${k}`), `batchPrompt.${k} is restricted`);
    }
    for (const k of restricted) assert.ok(k.slice('batchPrompt.'.length) in SETTINGS_SCHEMA, `${k} is a setting the code reads`);
  });

  it('untrusted workspaces: readSettings\' reader takes each restricted setting from the user (else the default), never from the workspace', () => {
    // What VS Code's inspect() would hold: a cloned repository's .vscode/settings.json, and some user values.
    const workspace: Record<string, unknown> = { respectGitignore: false, confirmAbove: 100000, maxFileSizeKB: 102400, useCache: false, defaultInclude: '**/.env', allowParallelRuns: true, chunkTokens: 4096, outputDirectory: '../../elsewhere', models: [{ id: 'x', provider: 'openai', model: 'm', baseUrl: 'http://attacker.invalid' }] };
    const user: Record<string, unknown> = { maxFileSizeKB: 512, useCache: true };
    const effective = (k: string) => (k in workspace ? workspace[k] : user[k]);
    const inspect = (k: string) => ({ defaultValue: (SETTINGS_SCHEMA as Record<string, { default: unknown }>)[k]?.default, globalValue: user[k], workspaceValue: workspace[k] });
    const untrusted = normalizeSettings(settingsReader(false, effective, inspect));
    assert.strictEqual(untrusted.respectGitignore, true);
    assert.strictEqual(untrusted.confirmAbove, SETTINGS_SCHEMA.confirmAbove.default);
    assert.strictEqual(untrusted.maxFileSizeKB, 512, 'the user value applies');
    assert.strictEqual(untrusted.useCache, true);
    assert.strictEqual(untrusted.defaultInclude, '**/*');
    assert.strictEqual(untrusted.allowParallelRuns, false);
    assert.strictEqual(untrusted.outputDirectory, '.batch-prompt/runs');
    assert.deepStrictEqual(untrusted.models, []);
    assert.strictEqual(untrusted.chunkTokens, 4096, 'a setting that is not restricted keeps its workspace value');
    // Trusted: the effective values, as VS Code gives them.
    const trusted = normalizeSettings(settingsReader(true, effective, inspect));
    assert.strictEqual(trusted.respectGitignore, false);
    assert.strictEqual(trusted.confirmAbove, 100000);
  });

  it('normalises settings: clamps numbers, falls back on wrong types, drops invalid endpoints with a reason', () => {
    const raw: Record<string, unknown> = {
      chunkTokens: 10,
      maxConcurrency: 'lots',
      respectGitignore: false,
      models: [
        { id: 'ok', provider: 'openai', model: 'gpt', baseUrl: 'http://127.0.0.1:1/v1', headers: { a: 'b', n: 1 } },
        { id: 'bad id!', provider: 'openai', model: 'x' },
        { id: 'p', provider: 'nope', model: 'x' },
        { id: 'u', provider: 'openai', model: 'x', baseUrl: 'file:///etc/passwd' },
        { id: 'ok', provider: 'ollama', model: 'dup' },
      ],
    };
    const problems: string[] = [];
    const s = normalizeSettings((k) => raw[k], problems);
    assert.strictEqual(s.chunkTokens, 256);
    assert.strictEqual(s.maxConcurrency, 4);
    assert.strictEqual(s.respectGitignore, false);
    assert.deepStrictEqual(s.models, [{ id: 'ok', provider: 'openai', model: 'gpt', baseUrl: 'http://127.0.0.1:1/v1', headers: { a: 'b' } }]);
    assert.strictEqual(problems.length, 4, problems.join('\n'));
  });
});
