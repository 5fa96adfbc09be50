// Findings in the Problems panel (#14) in the real extension host: a findings run against a local
// server answering findings JSON, read back with `vscode.languages.getDiagnostics()`; a window reload
// (the collection emptied, the activation's restore run again); stale findings; "Clear Findings";
// and a run folder's findings read as untrusted input.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { hashText } from '../../src/core/plan/plan';
import { findingsReply } from '../support/findingsReplies';
import { ModelServer } from '../support/modelServer';
import { activateExtension, extensionApi, runOnFiles } from './support/extension';
import { spyMessages, stubInputBox, stubQuickPick } from './support/messages';
import { resetSettings, useLocalEndpoint } from './support/settings';
import { removeTree, RunFolder, RUNS_DIR, workspaceRoot, writeTree } from './support/workspace';

const CORPUS: Record<string, string> = {
  'a.ts': 'const a = 1;\nconst b = a + 1; // BUG\nexport { b };\n',
  'b.ts': 'export function f(x: number) {\n  return x;\n}\n',
  'c.ts': 'let n = 0;\nn++; // BUG\nn--;\nn = n / 0; // BUG\n',
};

type Shown = { file: string; line: number; severity: vscode.DiagnosticSeverity; message: string; code?: string; source?: string };

/** The Batch Prompt diagnostics of the folder, by workspace-relative path, sorted. */
function shown(folder: string): Shown[] {
  const root = workspaceRoot();
  return vscode.languages
    .getDiagnostics()
    .flatMap(([uri, ds]) => ds.filter((d) => d.source === 'Batch Prompt').map((d) => ({ uri, d })))
    .filter(({ uri }) => path.relative(root, uri.fsPath).split(path.sep)[0] === folder)
    .map(({ uri, d }) => ({
      file: path.relative(root, uri.fsPath).split(path.sep).join('/'),
      line: d.range.start.line + 1,
      severity: d.severity,
      message: d.message,
      ...(d.code !== undefined ? { code: String(d.code) } : {}),
      source: d.source,
    }))
    .sort((x, y) => x.file.localeCompare(y.file) || x.line - y.line);
}

/** A window reload, as far as the findings go: the collection is gone, the activation's restore runs. */
async function reload(): Promise<vscode.Uri | undefined> {
  const api = await extensionApi();
  api.findings.forget();
  return api.findings.restore();
}

describe('Findings in the Problems panel (extension host)', function () {
  before(async () => {
    await activateExtension();
  });
  afterEach(async () => {
    await vscode.commands.executeCommand('batchPrompt.clearFindings');
  });

  describe('a run folder with findings.jsonl (what a findings run leaves)', () => {
    const FOLDER = 'findings-fixture';
    const RUN_ID = '29991231-235959-f1x0'; // the newest run folder: the one a restore takes
    const runDir = () => path.join(workspaceRoot(), RUNS_DIR, RUN_ID);

    function writeRun(findings: string[], files = CORPUS): void {
      writeTree(FOLDER, files);
      fs.rmSync(runDir(), { recursive: true, force: true });
      fs.mkdirSync(runDir(), { recursive: true });
      const meta = {
        runId: RUN_ID,
        createdAt: new Date().toISOString(),
        root: workspaceRoot(),
        prompt: 'Find bugs.',
        model: { id: 'local', provider: 'openai', model: 'm' },
        encoding: 'o200k_base',
        protocolVersion: 1,
        output: { kind: 'findings' },
        parameters: {},
        files: Object.entries(files).map(([name, text], i) => ({
          path: `${FOLDER}/${name}`,
          hash: hashText(text),
          chunks: [{ id: `${i + 1}.1`, path: `${FOLDER}/${name}`, index: 0, start: 0, end: text.length, startLine: 1, endLine: text.split('\n').length - 1, overlap: 0, tokens: 10 }],
        })),
      };
      fs.writeFileSync(path.join(runDir(), 'run.json'), JSON.stringify(meta));
      fs.writeFileSync(path.join(runDir(), 'findings.jsonl'), findings.map((f) => `${f}\n`).join(''));
    }

    const line = (f: Record<string, unknown>) => JSON.stringify({ chunkId: '1.1', ...f });

    after(() => {
      fs.rmSync(runDir(), { recursive: true, force: true });
      removeTree(FOLDER);
    });

    it('shows the newest findings run again after a reload: severity, rule as code, suggestion in the message, source "Batch Prompt"', async () => {
      writeRun([
        line({ path: `${FOLDER}/a.ts`, line: 2, severity: 'error', message: 'Adds to the wrong variable.', rule: 'wrong-var', suggestion: 'Use b.' }),
        line({ path: `${FOLDER}/c.ts`, line: 2, endLine: 3, severity: 'warning', message: 'Counter goes up then down.' }),
        line({ path: `${FOLDER}/c.ts`, line: 4, column: 5, severity: 'info', message: 'Division by zero.' }),
        line({ path: `${FOLDER}/b.ts`, line: 1, severity: 'hint', message: 'Could be an arrow function.' }),
      ]);
      assert.deepStrictEqual(shown(FOLDER), [], 'nothing shown before the reload');
      const restored = await reload();
      assert.strictEqual(restored?.fsPath, runDir());
      assert.deepStrictEqual(shown(FOLDER), [
        { file: `${FOLDER}/a.ts`, line: 2, severity: vscode.DiagnosticSeverity.Error, message: 'Adds to the wrong variable. Suggestion: Use b.', code: 'wrong-var', source: 'Batch Prompt' },
        { file: `${FOLDER}/b.ts`, line: 1, severity: vscode.DiagnosticSeverity.Hint, message: 'Could be an arrow function.', source: 'Batch Prompt' },
        { file: `${FOLDER}/c.ts`, line: 2, severity: vscode.DiagnosticSeverity.Warning, message: 'Counter goes up then down.', source: 'Batch Prompt' },
        { file: `${FOLDER}/c.ts`, line: 4, severity: vscode.DiagnosticSeverity.Information, message: 'Division by zero.', source: 'Batch Prompt' },
      ]);
      const range = vscode.languages.getDiagnostics(vscode.Uri.file(path.join(workspaceRoot(), FOLDER, 'c.ts')))[0].range;
      assert.deepStrictEqual([range.start.line, range.start.character, range.end.line, range.end.character], [1, 0, 2, 'n--;'.length], 'line..endLine');
    });

    it('marks a finding stale when its file changed since the run, and drops it where its line no longer exists', async () => {
      writeRun([
        line({ path: `${FOLDER}/a.ts`, line: 2, severity: 'error', message: 'Adds to the wrong variable.' }),
        line({ path: `${FOLDER}/c.ts`, line: 2, severity: 'error', message: 'Increment.' }),
        line({ path: `${FOLDER}/c.ts`, line: 4, severity: 'error', message: 'Division by zero.' }),
      ]);
      fs.writeFileSync(path.join(workspaceRoot(), FOLDER, 'c.ts'), 'let n = 0;\nn++;\n'); // changed: line 4 is gone
      await reload();
      assert.deepStrictEqual(
        shown(FOLDER).map((s) => [s.file, s.line, s.message]),
        [
          [`${FOLDER}/a.ts`, 2, 'Adds to the wrong variable.'],
          [`${FOLDER}/c.ts`, 2, 'Increment. (stale: the file changed since the run)'],
        ],
      );
    });

    it('reads findings.jsonl as untrusted: malformed lines and paths outside the run\'s files are left out, with a log line', async () => {
      writeRun([
        line({ path: `${FOLDER}/a.ts`, line: 2, severity: 'error', message: 'Kept.' }),
        '{not json',
        line({ path: '../../outside.ts', line: 1, severity: 'error', message: 'Outside.' }),
        line({ path: `${FOLDER}/not-in-run.ts`, line: 1, severity: 'error', message: 'Not covered.' }),
        line({ path: `${FOLDER}/a.ts`, line: 1, severity: 'fatal', message: 'Bad severity.' }),
      ]);
      await reload();
      assert.deepStrictEqual(
        shown(FOLDER).map((s) => s.message),
        ['Kept.'],
      );
      const log = (await extensionApi()).log.recent().join('\n');
      assert.match(log, /findings\.jsonl: 3 malformed lines left out: line 2 \(not JSON\), line 3 \(path has a "\.\." segment\)/);
      assert.match(log, /1 finding on files the run did not cover/);
    });

    it('"Clear Findings" empties them, and a reload does not bring back what was cleared', async () => {
      writeRun([line({ path: `${FOLDER}/a.ts`, line: 2, severity: 'error', message: 'Kept.' })]);
      await reload();
      assert.strictEqual(shown(FOLDER).length, 1);
      await vscode.commands.executeCommand('batchPrompt.clearFindings');
      assert.deepStrictEqual(shown(FOLDER), []);
      assert.strictEqual(await reload(), undefined);
      assert.deepStrictEqual(shown(FOLDER), []);
    });
  });

  describe('a prompt file\'s output kind', () => {
    let server: ModelServer;
    let outsideSchema = '';
    before(async () => {
      server = new ModelServer();
      await useLocalEndpoint(await server.start());
      writeTree('findings-prompts', {
        'a.ts': CORPUS['a.ts'],
        'bad.prompt.md': '---\ndescription: Bad kind\noutput: verdicts\n---\nJudge it.\n',
        'outside.prompt.md': '---\ndescription: Outside schema\nschema: ../../../etc/some.json\n---\nExtract.\n',
        'broken.prompt.md': '---\ndescription: Broken schema\nschema: ./broken.schema.json\n---\nExtract.\n',
        'broken.schema.json': '{"type": "object",\n "properties": {"a": {"type": 12}}}',
        'linked.prompt.md': '---\ndescription: Linked schema\nschema: ./linked.schema.json\n---\nExtract.\n',
      });
      // A schema inside the folder by its spelling, outside it through a symbolic link.
      outsideSchema = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bp-schema-')), 'outside.schema.json');
      fs.writeFileSync(outsideSchema, '{"type": "object"}');
      fs.symlinkSync(outsideSchema, path.join(workspaceRoot(), 'findings-prompts', 'linked.schema.json'));
    });
    after(async () => {
      await resetSettings('batchPrompt');
      await server.stop();
      removeTree('findings-prompts');
      fs.rmSync(path.dirname(outsideSchema), { recursive: true, force: true });
    });

    for (const [label, expected] of [
      ['Bad kind', /findings-prompts\/bad\.prompt\.md cannot be used: `output: verdicts` is not an output kind/],
      ['Outside schema', /is outside the workspace folder .*: a schema file must be inside it\. Nothing was sent\./],
      ['Broken schema', /broken\.schema\.json is not a valid JSON Schema/],
      ['Linked schema', /linked\.schema\.json cannot be read: .*leads outside the workspace folder .* through a symbolic link/],
    ] as const) {
      it(`refuses the run of a prompt file with a problem (${label}), with the message, and sends nothing`, async () => {
        const pick = stubQuickPick((items) => items.find((i) => i.label.includes(label)));
        const spy = spyMessages();
        try {
          const summary = await runOnFiles({ glob: 'findings-prompts/a.ts', modelId: 'local' });
          assert.strictEqual(summary, undefined);
          const errors = spy.shown.filter((m) => m.kind === 'error').map((m) => m.message);
          assert.ok(errors.some((m) => expected.test(m)), errors.join('\n'));
          assert.strictEqual(server.requests.length, 0);
        } finally {
          spy.restore();
          pick.restore();
        }
      });
    }
  });

  describe('a findings run against a local server answering findings JSON', () => {
    let server: ModelServer;
    const FOLDER = 'findings-run';
    before(async () => {
      server = new ModelServer();
      server.script = (req) => findingsReply(req);
      await useLocalEndpoint(await server.start(), { chunksPerBatch: 2 });
      writeTree(FOLDER, CORPUS);
    });
    after(async () => {
      await resetSettings('batchPrompt');
      await server.stop();
      removeTree(FOLDER);
    });

    it('puts the findings in the Problems panel, says the counts with "Show Problems", and shows them again after a reload', async () => {
      const spy = spyMessages();
      let summary;
      try {
        summary = await runOnFiles({ glob: `${FOLDER}/**`, prompt: 'Find the planted bugs.', modelId: 'local', output: 'findings' });
      } finally {
        spy.restore();
      }
      assert.ok(summary && summary.status === 'succeeded', JSON.stringify(summary));
      const run = RunFolder.of(summary);
      assert.strictEqual((JSON.parse(run.read('run.json')) as { output?: { kind: string } }).output?.kind, 'findings');
      const expected = [
        [`${FOLDER}/a.ts`, 2, vscode.DiagnosticSeverity.Error, 'Planted bug on line 2. Suggestion: Remove the marker.', 'planted-bug'],
        [`${FOLDER}/c.ts`, 2, vscode.DiagnosticSeverity.Error, 'Planted bug on line 2. Suggestion: Remove the marker.', 'planted-bug'],
        [`${FOLDER}/c.ts`, 4, vscode.DiagnosticSeverity.Error, 'Planted bug on line 4. Suggestion: Remove the marker.', 'planted-bug'],
      ];
      const view = () => shown(FOLDER).map((s) => [s.file, s.line, s.severity, s.message, s.code]);
      assert.deepStrictEqual(view(), expected, 'shown when the command resolves');
      const done = spy.shown.find((m) => m.message.startsWith('Batch Prompt: 3 errors in 2 files.'));
      assert.ok(done, spy.shown.map((m) => m.message).join('\n'));
      assert.ok(done.items.includes('Show Problems'), done.items.join(', '));

      assert.strictEqual((await reload())?.fsPath, run.dir, 'the newest findings run is restored');
      assert.deepStrictEqual(view(), expected, 'shown again after the reload');
    });

    it('a new findings run replaces the diagnostics of the files it covered and keeps the others', async () => {
      await runOnFiles({ glob: `${FOLDER}/**`, prompt: 'Find the planted bugs.', modelId: 'local', output: 'findings' });
      assert.strictEqual(shown(FOLDER).length, 3);
      fs.writeFileSync(path.join(workspaceRoot(), FOLDER, 'c.ts'), 'let n = 0;\n'); // fixed
      await runOnFiles({ glob: `${FOLDER}/c.ts`, prompt: 'Find the planted bugs.', modelId: 'local', output: 'findings' });
      assert.deepStrictEqual(
        shown(FOLDER).map((s) => [s.file, s.line]),
        [[`${FOLDER}/a.ts`, 2]],
      );
      fs.writeFileSync(path.join(workspaceRoot(), FOLDER, 'c.ts'), CORPUS['c.ts']);
    });

    it('the picker\'s "Type a prompt for findings" item makes a findings run, and "Run Last Prompt Again" keeps the kind', async () => {
      const pick = stubQuickPick((items) => items.find((i) => i.label.includes('Type a prompt for findings')));
      const input = stubInputBox('Find the planted bugs.');
      try {
        const summary = await runOnFiles({ glob: `${FOLDER}/a.ts`, modelId: 'local' });
        assert.ok(summary);
        assert.strictEqual((JSON.parse(RunFolder.of(summary).read('run.json')) as { output?: { kind: string } }).output?.kind, 'findings');
      } finally {
        pick.restore();
        input.restore();
      }
      await vscode.commands.executeCommand('batchPrompt.clearFindings');
      const again = await vscode.commands.executeCommand<{ runId: string } | undefined>('batchPrompt.runLast');
      assert.ok(again);
      assert.strictEqual((JSON.parse(fs.readFileSync(path.join(workspaceRoot(), RUNS_DIR, again.runId, 'run.json'), 'utf8')) as { output?: { kind: string } }).output?.kind, 'findings');
      assert.deepStrictEqual(
        shown(FOLDER).map((s) => [s.file, s.line]),
        [[`${FOLDER}/a.ts`, 2]],
      );
    });
  });
});
