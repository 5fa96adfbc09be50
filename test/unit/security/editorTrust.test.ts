// The editor's rules of issue #12 that need no VS Code: keys bound to their endpoint (keyBinding.ts),
// a run folder's endpoints matched against the user's (recordedEndpoints.ts), and the batch jobs this
// profile submitted (submittedJobs.ts).
import * as assert from 'assert';
import * as path from 'path';
import type { EndpointConfig } from '../../../src/providers/endpoint';
import { boundKeyName, BoundKeys, LEGACY_PREFIX, type SecretBackend } from '../../../src/vscode/base/keyBinding';
import { matchRecorded, refusalMessage } from '../../../src/vscode/run/recordedEndpoints';
import { endpointOfEntry, jobMismatch, SubmittedJobs, SUBMITTED_JOBS_KEY, type StateLike } from '../../../src/vscode/jobs/submittedJobs';

/** A SecretStorage stand-in that records every name read, stored and deleted. */
function fakeSecrets(initial: Record<string, string> = {}): SecretBackend & { map: Map<string, string>; reads: string[] } {
  const map = new Map(Object.entries(initial));
  const reads: string[] = [];
  return {
    map,
    reads,
    get: async (name) => (reads.push(name), map.get(name)),
    store: async (name, value) => void map.set(name, value),
    delete: async (name) => void map.delete(name),
  };
}

const KEY = 'sk-user-key-0123456789';
const userOpenai: EndpointConfig = { id: 'gpt', provider: 'openai', model: 'gpt-4o' };
const userProxy: EndpointConfig = { id: 'proxy', provider: 'openai', model: 'm', baseUrl: 'https://llm.corp.example/v1' };

describe('keys bound to their endpoint (keyBinding.ts)', () => {
  it('the key name holds provider and origin: another origin or provider with the same id is another name', () => {
    const a = boundKeyName(userProxy);
    assert.ok(a?.includes('https://llm.corp.example') && a.includes('openai') && a.includes('proxy'));
    assert.strictEqual(boundKeyName({ ...userProxy, baseUrl: 'https://llm.corp.example/other/path' }), a, 'the path is not part of the endpoint');
    assert.notStrictEqual(boundKeyName({ ...userProxy, baseUrl: 'https://attacker.example/v1' }), a);
    assert.notStrictEqual(boundKeyName({ ...userProxy, baseUrl: 'http://llm.corp.example/v1' }), a, 'another scheme is another origin');
    assert.notStrictEqual(boundKeyName({ ...userProxy, provider: 'anthropic' }), a);
    assert.strictEqual(boundKeyName({ id: 'x', provider: 'openai', baseUrl: 'file:///etc/passwd' }), undefined);
    assert.strictEqual(boundKeyName({ id: 'x', provider: 'vscode-lm' }), undefined);
  });

  it('an entry reusing the id at another origin never receives the stored key', async () => {
    const secrets = fakeSecrets();
    const keys = new BoundKeys(secrets, () => [userProxy]);
    assert.strictEqual(await keys.set(userProxy, KEY), true);
    assert.strictEqual(await keys.get(userProxy), KEY);
    assert.strictEqual(await keys.get({ ...userProxy, baseUrl: 'https://attacker.example/v1' }), undefined);
    assert.strictEqual(await keys.get({ ...userProxy, provider: 'anthropic' }), undefined);
    // The other entry gets a key of its own; the user's stays as it was.
    await keys.set({ ...userProxy, baseUrl: 'https://attacker.example/v1' }, 'sk-other-key-999999');
    assert.strictEqual(await keys.get(userProxy), KEY);
  });

  it('migration: a legacy key is bound at first use to the user-level entry with its id, and moves to the new name', async () => {
    const secrets = fakeSecrets({ [LEGACY_PREFIX + 'gpt']: KEY });
    const keys = new BoundKeys(secrets, () => [userOpenai]);
    assert.strictEqual(await keys.get(userOpenai), KEY);
    assert.strictEqual(secrets.map.get(boundKeyName(userOpenai)!), KEY);
    assert.strictEqual(secrets.map.has(LEGACY_PREFIX + 'gpt'), false, 'the legacy name is gone: it cannot be bound twice');
    assert.strictEqual(await keys.get(userOpenai), KEY, 'and keeps working');
  });

  it('migration: a workspace entry with the id at another origin never receives the legacy key, before or after it is bound', async () => {
    const secrets = fakeSecrets({ [LEGACY_PREFIX + 'gpt']: KEY });
    const keys = new BoundKeys(secrets, () => [userOpenai]);
    const hostile = { ...userOpenai, baseUrl: 'http://127.0.0.1:9/v1' };
    assert.strictEqual(await keys.get(hostile), undefined);
    assert.strictEqual(secrets.reads.includes(LEGACY_PREFIX + 'gpt'), false, 'the legacy key is not even read for it');
    assert.strictEqual(secrets.map.get(LEGACY_PREFIX + 'gpt'), KEY, 'nor moved');
    assert.strictEqual(await keys.get(userOpenai), KEY);
    assert.strictEqual(await keys.get(hostile), undefined);
  });

  it('migration: with no user-level entry of that id, no entry receives the legacy key', async () => {
    const secrets = fakeSecrets({ [LEGACY_PREFIX + 'gpt']: KEY });
    const keys = new BoundKeys(secrets, () => [userProxy]);
    assert.strictEqual(await keys.get(userOpenai), undefined, 'a workspace-level entry, even at the default URL, is asked for its own key');
    assert.strictEqual(secrets.map.get(LEGACY_PREFIX + 'gpt'), KEY);
  });

  it('delete and a new key for the owner remove the legacy key too', async () => {
    const secrets = fakeSecrets({ [LEGACY_PREFIX + 'gpt']: KEY, [LEGACY_PREFIX + 'proxy']: KEY });
    const keys = new BoundKeys(secrets, () => [userOpenai, userProxy]);
    await keys.set(userOpenai, 'sk-new-key-12345678');
    assert.strictEqual(secrets.map.has(LEGACY_PREFIX + 'gpt'), false);
    assert.strictEqual(await keys.get(userOpenai), 'sk-new-key-12345678');
    await keys.delete(userProxy);
    assert.strictEqual(secrets.map.has(LEGACY_PREFIX + 'proxy'), false);
    assert.strictEqual(await keys.get(userProxy), undefined);
  });
});

describe("a run folder's endpoints matched against the user's (recordedEndpoints.ts)", () => {
  it('matches by provider and origin, returning the configured entries; a foreign base URL matches nothing', () => {
    const r = matchRecorded([{ id: 'proxy', provider: 'openai', baseUrl: 'https://llm.corp.example/v1', model: 'm' }], [userOpenai, userProxy]);
    assert.deepStrictEqual(r, { matched: [userProxy], unmatched: [] });
    assert.strictEqual(r.matched[0], userProxy, 'the user entry itself (its URL, headers), never one built from the folder');
    const foreign = { id: 'proxy', provider: 'openai', baseUrl: 'http://127.0.0.1:9/v1', model: 'm', apiKeyEnv: 'HOME' };
    assert.deepStrictEqual(matchRecorded([foreign], [userOpenai, userProxy]), { matched: [], unmatched: [foreign] });
    // A recorded endpoint without a base URL is at the provider's default URL.
    assert.deepStrictEqual(matchRecorded([{ id: 'other-id', provider: 'openai' }], [userProxy, userOpenai]).matched, [userOpenai]);
  });

  it('of several recorded endpoints, keeps those matched (each once) and names the rest', () => {
    const recorded = [
      { id: 'gpt', provider: 'openai' },
      { id: 'evil', provider: 'anthropic', baseUrl: 'https://evil.example' },
      { id: 'gpt2', provider: 'openai', model: 'gpt-4o' },
    ];
    const r = matchRecorded(recorded, [userOpenai]);
    assert.deepStrictEqual(r.matched, [userOpenai]);
    assert.deepStrictEqual(r.unmatched, [recorded[1]]);
  });

  it('the refusal names the recorded origin and says nothing was sent', () => {
    const text = refusalMessage('The run 20260101-000000-abcd', [{ id: 'proxy', provider: 'openai', baseUrl: 'http://user:pw@127.0.0.1:9/v1?key=secret' }]);
    assert.match(text, /"proxy" \(openai at http:\/\/127\.0\.0\.1:9\)/);
    assert.match(text, /Nothing was sent/);
    assert.doesNotMatch(text, /pw|secret/, 'only the origin, never userinfo or the query');
  });
});

describe('batch jobs this profile submitted (submittedJobs.ts)', () => {
  function fakeState(): StateLike & { data: Map<string, unknown> } {
    const data = new Map<string, unknown>();
    return { data, get: <T>(k: string, d: T) => (data.has(k) ? (data.get(k) as T) : d), update: async (k, v) => void data.set(k, v) };
  }
  const root = path.resolve('/work/ws/.batch-prompt/runs');
  const dir = path.join(root, '20260101-000000-abcd');
  const job = { jobId: 'batch_1', provider: 'openai' as const, endpointId: 'proxy', submittedAt: '2026-01-01T00:00:00Z' };

  it('records job, endpoint identity and folder; lists the entries of one output folder; removes them', async () => {
    const state = fakeState();
    const jobs = new SubmittedJobs(state);
    const entry = await jobs.add(dir, job, userProxy);
    assert.deepStrictEqual(entry, { jobId: 'batch_1', jobProvider: 'openai', endpointId: 'proxy', provider: 'openai', origin: 'https://llm.corp.example', dir, submittedAt: job.submittedAt });
    await jobs.add(path.resolve('/elsewhere/runs/x'), { ...job, jobId: 'batch_2' }, userOpenai);
    assert.deepStrictEqual(jobs.in(root).map((e) => e.jobId), ['batch_1']);
    assert.strictEqual((state.data.get(SUBMITTED_JOBS_KEY) as unknown[]).length, 2);
    await jobs.remove(entry);
    assert.deepStrictEqual(jobs.in(root), []);
    assert.strictEqual(jobs.all().length, 1);
  });

  it('a job.json that names another job or endpoint does not match its entry', async () => {
    const entry = await new SubmittedJobs(fakeState()).add(dir, job, userProxy);
    assert.strictEqual(jobMismatch(entry, job), undefined);
    assert.match(jobMismatch(entry, { ...job, jobId: 'batch_evil' })!, /names the job batch_evil, not batch_1/);
    assert.match(jobMismatch(entry, { ...job, endpointId: 'other' })!, /names the endpoint "other"/);
    assert.match(jobMismatch(entry, { ...job, provider: 'anthropic' })!, /names the endpoint/);
    assert.match(jobMismatch(entry, undefined)!, /job\.json is missing/);
  });

  it("the endpoint polled is the user's entry at the recorded origin; none when the user has none there", async () => {
    const entry = await new SubmittedJobs(fakeState()).add(dir, job, userProxy);
    assert.strictEqual(endpointOfEntry(entry, [userOpenai, userProxy]), userProxy);
    assert.strictEqual(endpointOfEntry(entry, [userOpenai, { ...userProxy, baseUrl: 'https://attacker.example/v1' }]), undefined);
  });
});
