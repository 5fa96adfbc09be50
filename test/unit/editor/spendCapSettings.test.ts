import * as assert from 'assert';
import { normalizeSettings, settingsReader, SETTINGS_SCHEMA } from '../../../src/vscode/base/settingsSchema';
import { budgetNote, batchJobCap, capOfSettings, editorBudget } from '../../../src/vscode/run/spendCap';
import { shortReason } from '../../../src/vscode/failures/failuresModel';
import type { ChatModel } from '../../../src/core/execute/model';
import type { RunSummary } from '../../../src/core/store/runStore';

const model = { id: 'ep', supportsSystemMessage: true, complete: () => Promise.reject(new Error('not sent')) } as ChatModel;

describe('editor: the spend cap settings (batchPrompt.maxCostPerRun, batchPrompt.maxTokensPerRun)', () => {
  /** The settings as an untrusted (or trusted) workspace reads them, from user and workspace values. */
  function read(trusted: boolean, user: Record<string, unknown>, workspace: Record<string, unknown>) {
    const effective = (k: string) => (k in workspace ? workspace[k] : user[k]);
    const inspect = (k: string) => ({ defaultValue: (SETTINGS_SCHEMA as Record<string, { default: unknown }>)[k]?.default, globalValue: user[k], workspaceValue: workspace[k] });
    return normalizeSettings(settingsReader(trusted, effective, inspect));
  }

  it('untrusted: a workspace value may lower a cap or set one, never raise or remove it (the lower of the two; 0 is none)', () => {
    const u = read(false, { maxCostPerRun: 5, maxTokensPerRun: 100000 }, { maxCostPerRun: 500, maxTokensPerRun: 0 });
    assert.deepStrictEqual([u.maxCostPerRun, u.maxTokensPerRun], [5, 100000], 'raising or removing is ignored');
    const lowered = read(false, { maxCostPerRun: 5 }, { maxCostPerRun: 0.25, maxTokensPerRun: 2000 });
    assert.deepStrictEqual([lowered.maxCostPerRun, lowered.maxTokensPerRun], [0.25, 2000], 'a lower cap, or a cap where the user has none, applies');
    const none = read(false, {}, {});
    assert.deepStrictEqual([none.maxCostPerRun, none.maxTokensPerRun], [0, 0]);
    const trusted = read(true, { maxCostPerRun: 5 }, { maxCostPerRun: 500 });
    assert.strictEqual(trusted.maxCostPerRun, 500, 'a trusted workspace sets what it likes');
    assert.strictEqual(read(true, { maxCostPerRun: 1.75 }, {}).maxCostPerRun, 1.75, 'dollars keep their cents');
  });

  it('the cap goes into the run; a cost cap on a model without prices is refused naming both settings', () => {
    const settings = read(true, { maxCostPerRun: 2, maxTokensPerRun: 0 }, {});
    assert.deepStrictEqual(capOfSettings(settings), { maxCostUsd: 2 });
    assert.deepStrictEqual(editorBudget(settings, { inputCostPerMTok: 1, outputCostPerMTok: 4 }, model), { budget: { cap: { maxCostUsd: 2 }, prices: { inputCostPerMTok: 1, outputCostPerMTok: 4 } } });
    const refused = editorBudget(settings, {}, model).refused!;
    assert.match(refused, /^batchPrompt\.maxCostPerRun needs the endpoint's prices, and ep has none; give its prices \(inputCostPerMTok and outputCostPerMTok in its batchPrompt\.models entry\), or cap the tokens with batchPrompt\.maxTokensPerRun instead\. Nothing was sent\.$/);
    assert.deepStrictEqual(editorBudget(read(true, {}, {}), {}, model), {}, 'no cap: nothing to pass');
  });

  it('batch jobs: a finite output limit under a cap, refused over the worst case; the notification and the Failed view say the cap', () => {
    const settings = read(true, { maxTokensPerRun: 1000 }, {});
    assert.deepStrictEqual(batchJobCap(settings, {}, [{ tokens: 100 }], 200), { maxOutputTokens: 200 });
    assert.match(batchJobCap(settings, {}, [{ tokens: 500 }, { tokens: 500 }], 200).refused!, /worst case \(2 requests: 1,000 input tokens plus 200 output tokens each\) is 1,400 against 1,000 tokens.*Raise batchPrompt\.maxTokensPerRun, lower maxOutputTokens/);
    assert.strictEqual(batchJobCap(read(true, {}, {}), {}, [{ tokens: 1e9 }], undefined).maxOutputTokens, undefined);
    const summary = { canceled: 2, budget: { cap: { maxTokens: 1000 }, spent: { costUsd: 0, tokens: 950 }, reached: true } } as unknown as RunSummary;
    assert.strictEqual(budgetNote(summary), ' Spend cap reached at 950 of 1,000 tokens: 2 chunks not sent (canceled, reason budget); resume with a higher cap to finish them.');
    assert.strictEqual(budgetNote({ ...summary, budget: { ...summary.budget!, reached: false } }), '');
    assert.strictEqual(shortReason({ status: 'canceled', error: { kind: 'budget', message: 'x' } }), 'spend cap reached');
    assert.strictEqual(shortReason({ status: 'canceled', error: { kind: 'canceled', message: 'x' } }), 'canceled');
  });
});
