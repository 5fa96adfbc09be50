// The test runner's own rules (scripts/test.js, scripts/tiers/): `.only` fails a tier, pending tests
// are reported by full title and fail the run unless test/skips.json lists them, and host tiers skipped
// by BATCH_PROMPT_SKIP_HOST_TIERS fail in CI and, elsewhere, unless --allow-skip is given.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { isCi, readSkipList, verdict, type TierReport } from '../../../scripts/tiers/verdict.js';

const ROOT = path.resolve(__dirname, '../../../..');

/** Runs scripts/tiers/unit.js (in its own Node, as scripts/test.js does) over `files` as the built tests. */
async function runUnitTier(files: Record<string, string>): Promise<{ report?: { passed: number; failed: number; skipped: number; pending: string[] }; stderr: string }> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'bp-tier-'));
  try {
    const dir = path.join(root, 'out/test/unit');
    await fs.mkdir(dir, { recursive: true });
    for (const [name, text] of Object.entries(files)) await fs.writeFile(path.join(dir, name), text);
    const script = `require(${JSON.stringify(path.join(ROOT, 'scripts/tiers/unit.js'))}).run(${JSON.stringify(root)}).then((r) => console.log('REPORT ' + JSON.stringify(r)), (e) => { console.error('REJECTED ' + e.message); process.exit(3); })`;
    // Without this run's test selection: the probe files are selected in full.
    const env = { ...process.env };
    delete env.BATCH_PROMPT_TEST_GREP;
    const r = spawnSync(process.execPath, ['-e', script], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
    const line = r.stdout.split('\n').find((l) => l.startsWith('REPORT '));
    return { report: line ? JSON.parse(line.slice('REPORT '.length)) : undefined, stderr: r.stderr };
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
}

const hostSkipped = (name: string): TierReport => ({ name, passed: 0, failed: 0, skipped: 0, pending: [], tierSkipped: 'BATCH_PROMPT_SKIP_HOST_TIERS is set' });
const unit = (pending: string[] = []): TierReport => ({ name: 'unit', passed: 10, failed: 0, skipped: pending.length, pending });

describe('test runner rules', function () {
  this.timeout(60_000);

  it('the unit tier refuses a `.only` (forbidOnly)', async () => {
    // Spelled in two pieces so that a search for a stray focused test does not find this fixture.
    const only = ['it', 'only'].join('.');
    const { report, stderr } = await runUnitTier({ 'a.test.js': `describe('s', () => { ${only}('one', () => {}); it('two', () => {}); });\n` });
    assert.strictEqual(report, undefined, 'no report: the tier failed');
    assert.match(stderr, /\.only` forbidden/);
  });

  it('the unit tier reports the full title of every pending test', async () => {
    const { report, stderr } = await runUnitTier({
      'b.test.js': "describe('suite', () => { it.skip('skipped', () => {}); it('skips itself', function () { this.skip(); }); describe.skip('block', () => { it('inner', () => {}); }); it('passes', () => {}); });\n",
    });
    assert.ok(report, stderr);
    assert.strictEqual(report.passed, 1);
    assert.deepStrictEqual(report.pending.sort(), ['suite block inner', 'suite skipped', 'suite skips itself']);
  });

  it('a pending test not in the skip list is a failure that names it; a listed one is not', () => {
    const v = verdict({ tiers: [unit(['suite skipped', 'suite other'])], skipList: [{ title: 'suite skipped', reason: 'upstream bug #1' }], ci: false, allowSkip: false });
    assert.strictEqual(v.failed, 1);
    assert.strictEqual(v.exitCode, 1);
    assert.ok(v.messages.some((m) => m.includes('"suite other"') && m.includes('test/skips.json')), v.messages.join('\n'));
    assert.ok(!v.messages.some((m) => m.includes('"suite skipped"')));
    assert.strictEqual(v.line, '10 passed, 1 failed, 1 pending (listed in test/skips.json)');
  });

  it('pending tests reported without their titles fail the run', () => {
    const v = verdict({ tiers: [{ name: 'integration', passed: 3, failed: 0, skipped: 2 }], skipList: [], ci: false, allowSkip: false });
    assert.strictEqual(v.failed, 1);
    assert.match(v.messages.join('\n'), /2 pending test\(s\) reported without their titles/);
  });

  it('in CI, a host tier skipped by the environment is a failure, --allow-skip or not', () => {
    for (const allowSkip of [false, true]) {
      const v = verdict({ tiers: [unit(), hostSkipped('integration'), hostSkipped('ui')], skipList: [], ci: true, allowSkip });
      assert.strictEqual(v.failed, 2);
      assert.strictEqual(v.exitCode, 1);
      assert.match(v.messages.join('\n'), /integration tier was skipped \(BATCH_PROMPT_SKIP_HOST_TIERS is set\): CI must run all three tiers/);
      assert.strictEqual(v.line, '10 passed, 2 failed, skipped: integration, ui');
    }
  });

  it('outside CI, skipped host tiers show in the closing line and fail the exit code unless --allow-skip', () => {
    const strict = verdict({ tiers: [unit(), hostSkipped('integration'), hostSkipped('ui')], skipList: [], ci: false, allowSkip: false });
    assert.strictEqual(strict.failed, 0);
    assert.strictEqual(strict.exitCode, 1);
    assert.strictEqual(strict.line, '10 passed, 0 failed, skipped: integration, ui');
    assert.match(strict.messages.join('\n'), /--allow-skip/);
    const allowed = verdict({ tiers: [unit(), hostSkipped('integration'), hostSkipped('ui')], skipList: [], ci: false, allowSkip: true });
    assert.strictEqual(allowed.exitCode, 0);
    assert.strictEqual(allowed.line, '10 passed, 0 failed, skipped: integration, ui');
  });

  it('a tier chosen alone (--tier unit) passes on its own', () => {
    const v = verdict({ tiers: [unit()], skipList: [], ci: true, allowSkip: false });
    assert.deepStrictEqual([v.exitCode, v.line], [0, '10 passed, 0 failed']);
  });

  it('CI is CI set to anything but empty, 0 or false', () => {
    assert.deepStrictEqual(['true', '1', 'yes', '', '0', 'false', 'FALSE', undefined].map((CI) => isCi({ CI })), [true, true, true, false, false, false, false, false]);
  });

  it('the skip list: each entry needs a title and a reason; a bad entry is named; the repository list is valid', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bp-skips-'));
    try {
      const file = path.join(dir, 'skips.json');
      await fs.writeFile(file, JSON.stringify([{ title: 'a b', reason: 'why' }, { title: 'c d' }]));
      const r = readSkipList(file);
      assert.deepStrictEqual(r.entries, [{ title: 'a b', reason: 'why' }]);
      assert.strictEqual(r.problems.length, 1);
      assert.ok(r.problems[0].includes(file) && r.problems[0].includes('entry 1'), r.problems[0]);
      const v = verdict({ tiers: [unit()], skipList: r.entries, skipListProblems: r.problems, ci: false, allowSkip: false });
      assert.strictEqual(v.exitCode, 1);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
    assert.deepStrictEqual(readSkipList(path.join(ROOT, 'test/skips.json')).problems, []);
  });
});
