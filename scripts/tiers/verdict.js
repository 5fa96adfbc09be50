// The rules that turn the tiers' reports into `npm test`'s closing line and exit code (scripts/test.js):
// a pending test fails the run unless test/skips.json lists its full title with a reason, and a host tier
// skipped by BATCH_PROMPT_SKIP_HOST_TIERS fails it in CI and, elsewhere, unless --allow-skip is given.
const fs = require('fs');

/** Whether this is a CI run: `CI` set to anything but empty, `0` or `false` (CI services set CI=true). */
function isCi(env = process.env) {
  const v = env.CI;
  return v !== undefined && v !== '' && !/^(0|false)$/i.test(v);
}

/**
 * Reads the list of allowed skips: a JSON array of `{ "title": "<full title>", "reason": "<why>" }`.
 * A missing file is an empty list; a malformed one is a problem that names the file and the entry.
 * @returns {{ entries: {title:string, reason:string}[], problems: string[] }}
 */
function readSkipList(file) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if (e && e.code === 'ENOENT') return { entries: [], problems: [] };
    return { entries: [], problems: [`${file}: cannot be read (${e.message})`] };
  }
  let list;
  try {
    list = JSON.parse(text);
  } catch (e) {
    return { entries: [], problems: [`${file}: not valid JSON (${e.message})`] };
  }
  if (!Array.isArray(list)) return { entries: [], problems: [`${file}: must be an array of { "title", "reason" }`] };
  const entries = [];
  const problems = [];
  list.forEach((entry, i) => {
    const ok = entry && typeof entry === 'object' && typeof entry.title === 'string' && entry.title.trim() && typeof entry.reason === 'string' && entry.reason.trim();
    if (ok) entries.push({ title: entry.title, reason: entry.reason });
    else problems.push(`${file}: entry ${i} (${JSON.stringify(entry)}) needs a non-empty "title" (the test's full title) and "reason"`);
  });
  return { entries, problems };
}

/**
 * @param {object} o
 * @param {{name:string, passed:number, failed:number, skipped?:number, pending?:string[], tierSkipped?:string}[]} o.tiers reports of the tiers that ran
 * @param {number} [o.otherFailures] failures outside the tiers (type-check, lint)
 * @param {{title:string, reason:string}[]} o.skipList
 * @param {string[]} [o.skipListProblems]
 * @param {boolean} o.ci
 * @param {boolean} o.allowSkip
 * @returns {{ passed:number, failed:number, exitCode:number, line:string, messages:string[] }}
 */
function verdict(o) {
  const messages = [];
  let passed = 0;
  let failed = o.otherFailures || 0;
  let listedPending = 0;
  const skippedTiers = [];
  const allowed = new Set(o.skipList.map((e) => e.title));
  for (const p of o.skipListProblems || []) {
    messages.push(`FAIL ${p}`);
    failed++;
  }
  for (const t of o.tiers) {
    passed += t.passed;
    failed += t.failed;
    if (t.tierSkipped) {
      skippedTiers.push(t.name);
      if (o.ci) {
        messages.push(`FAIL the ${t.name} tier was skipped (${t.tierSkipped}): CI must run all three tiers; unset it`);
        failed++;
      } else {
        messages.push(`the ${t.name} tier was skipped (${t.tierSkipped})`);
      }
      continue;
    }
    const pending = t.pending || [];
    for (const title of pending) {
      if (allowed.has(title)) listedPending++;
      else {
        messages.push(`FAIL ${t.name}: pending test not listed in test/skips.json: "${title}" (remove the skip, or list it with its reason)`);
        failed++;
      }
    }
    const untitled = (t.skipped || 0) - pending.length;
    if (untitled > 0) {
      messages.push(`FAIL ${t.name}: ${untitled} pending test(s) reported without their titles`);
      failed++;
    }
  }
  const skippedFails = skippedTiers.length > 0 && !o.ci && !o.allowSkip;
  if (skippedFails) messages.push(`not a pass: ${skippedTiers.join(' and ')} did not run; run them, or pass --allow-skip to accept the skip on this machine (never in CI)`);
  if (skippedTiers.length > 0 && o.ci && o.allowSkip) messages.push('--allow-skip is ignored in CI (CI=true)');
  let line = `${passed} passed, ${failed} failed`;
  if (listedPending) line += `, ${listedPending} pending (listed in test/skips.json)`;
  if (skippedTiers.length) line += `, skipped: ${skippedTiers.join(', ')}`;
  const exitCode = failed > 0 || passed === 0 || skippedFails ? 1 : 0;
  return { passed, failed, exitCode, line, messages };
}

module.exports = { isCi, readSkipList, verdict };
