// `npm start -- --sample-model`: a fake OpenAI-compatible model on 127.0.0.1 for the sample workspace,
// so that the try-out works with no model at all. Its answers are canned: it never reads the chunks it
// is sent beyond their ids, paths and lines. A findings request (the sample's "Find bugs" prompt, or a
// typed findings prompt) is answered with the planted bugs of the sample's files (absolute line
// numbers), in the tagged protocol (`<result id="ID">{"findings":[…]}</result>`), or as the batch's
// `{"results":[{"id","value"}]}` when the request asks for a structured reply (`response_format`).
// An edit request (#15, `<edit lines>` parts to rewrite, the sample's "Add doc comments" prompt or a
// typed rewrite prompt) gets each part back with a canned doc comment above every exported function
// (TypeScript `export function`, Python top-level `def`, Go exported `func`) that has none.
// Any other prompt gets a canned sentence per chunk. The answers are pure functions (unit-tested in
// test/unit/tooling/sampleModel.test.ts); `startSampleModel` serves them.
const http = require('http');

const MODEL = 'canned';

/**
 * The planted bugs of sample/, by workspace-relative path: what "Find bugs" answers. Keep the lines in
 * step with the sample files (a unit test checks each line still holds its `anchor`).
 */
const PLANTED_FINDINGS = {
  'src/pricing.ts': [
    { line: 29, severity: 'info', anchor: 'discountPercent ?? 0', message: 'discountPercent is not checked: a value above 100 makes the line total negative.', rule: 'unchecked-input', suggestion: 'Clamp discountPercent to 0..100, or reject the line.' },
    { line: 36, severity: 'warning', anchor: 'subtotal > coupon.minimumOrderCents', message: 'An order whose subtotal equals the coupon\'s minimum is refused the coupon: the boundary is excluded.', rule: 'boundary-condition', suggestion: 'Use subtotal >= coupon.minimumOrderCents.' },
  ],
  'scripts/report.py': [
    { line: 17, severity: 'warning', anchor: 'float(row["amount"])', message: 'Money is summed as float: totals can be off by a cent.', rule: 'float-money', suggestion: 'Parse amounts with decimal.Decimal.' },
    { line: 31, severity: 'error', anchor: '/ len(rows)', message: 'average_order divides by len(rows): an empty orders.csv raises ZeroDivisionError.', rule: 'division-by-zero', suggestion: 'Return 0 (or None) when rows is empty.' },
  ],
  'server/health.go': [
    { line: 40, endLine: 44, severity: 'error', anchor: 'range h.checks', message: 'ServeHTTP reads h.checks without holding h.mu while Register may write it: a concurrent map read and write crashes the server.', rule: 'data-race', suggestion: 'Copy the checks under h.mu.Lock() and run the copies after unlocking.' },
  ],
};

const CHUNK_RE = /<chunk id="([^"]*)" path="([^"]*)" lines="(\d+)-(\d+)">/g;

/** The chunks of a request's messages: id, path (unescaped) and line range. */
function chunksOf(messages) {
  const text = (messages || []).map((m) => (typeof m.content === 'string' ? m.content : '')).join('\n');
  return [...text.matchAll(CHUNK_RE)].map((m) => ({ id: unescape(m[1]), path: unescape(m[2]), startLine: Number(m[3]), endLine: Number(m[4]) }));
}

function unescape(value) {
  return value.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&amp;/g, '&');
}

/** A run-relative path's sample file (a multi-root workspace prefixes the folder's name). */
function plantedFor(path) {
  const key = Object.keys(PLANTED_FINDINGS).find((k) => path === k || path.endsWith(`/${k}`));
  return key ? PLANTED_FINDINGS[key] : [];
}

/** The canned findings of one chunk: the planted bugs that start within its lines. */
function findingsFor(chunk) {
  return plantedFor(chunk.path)
    .filter((f) => f.line >= chunk.startLine && f.line <= chunk.endLine)
    .map((planted) => {
      const f = { ...planted };
      delete f.anchor;
      if (f.endLine !== undefined) f.endLine = Math.min(f.endLine, chunk.endLine);
      return f;
    });
}

/** True when the request asks for findings: the structured schema, or the protocol's instructions, name them. */
function wantsFindings(body) {
  const schema = body.response_format && JSON.stringify(body.response_format);
  if (schema) return schema.includes('"findings"');
  return (body.messages || []).some((m) => typeof m.content === 'string' && /"findings"/.test(m.content));
}

/** True when the request is an edit run's: its chunks hold the parts to rewrite in `<edit lines="…">`. */
function wantsEdit(body) {
  return (body.messages || []).some((m) => typeof m.content === 'string' && /<edit lines="\d+-\d+">\n/.test(m.content));
}

const CHUNK_BODY_RE = /<chunk id="([^"]*)" path="([^"]*)" lines="\d+-\d+">\n([\s\S]*?)\n<\/chunk>/g;

/** Each chunk's part to rewrite: between `<edit lines="…">\n` and its `</edit>` (before the trailing context). */
function editPartsOf(messages) {
  const text = (messages || []).map((m) => (typeof m.content === 'string' ? m.content : '')).join('\n');
  return [...text.matchAll(CHUNK_BODY_RE)].map((m) => {
    const body = m[3];
    const open = /<edit lines="\d+-\d+">\n/.exec(body);
    if (!open) return { id: unescape(m[1]), path: unescape(m[2]), part: '' };
    const from = open.index + open[0].length;
    const ctx = body.indexOf('\n<context lines="', from);
    return { id: unescape(m[1]), path: unescape(m[2]), part: body.slice(from, body.lastIndexOf('</edit>', ctx === -1 ? body.length : ctx)) };
  });
}

/** The canned rewrite of a part: a doc comment above each exported function of the file's language that has none. */
function addDocComments(part, path) {
  const lines = part.split('\n');
  const out = [];
  lines.forEach((line, i) => {
    const previous = i > 0 ? lines[i - 1].trim() : '';
    const documented = previous.endsWith('*/') || previous.startsWith('//') || previous.startsWith('#');
    let m;
    if (/\.[cm]?[jt]sx?$/.test(path) && (m = /^(\s*)export (?:async )?function\*? ?(\w+)/.exec(line)) && !documented) out.push(`${m[1]}/** ${m[2]}: (a canned doc comment from the sample model) */`);
    else if (/\.py$/.test(path) && (m = /^def (\w+)/.exec(line)) && !documented) out.push(`# ${m[1]}: (a canned doc comment from the sample model)`);
    else if (/\.go$/.test(path) && (m = /^func (?:\([^)]*\) )?([A-Z]\w*)/.exec(line)) && !documented) out.push(`// ${m[1]} (a canned doc comment from the sample model).`);
    out.push(line);
  });
  return out.join('\n');
}

function cannedText(chunk) {
  return `(A canned answer from npm start's sample model: it does not read ${chunk.path}, lines ${chunk.startLine}-${chunk.endLine}. Start with --base-url URL --model NAME for real answers.)`;
}

/** The reply text for a chat completion request's body. */
function answer(body) {
  if (wantsEdit(body)) return editPartsOf(body.messages).map((c) => `<result id="${c.id}">\n${addDocComments(c.part, c.path)}\n</result>`).join('\n');
  const chunks = chunksOf(body.messages);
  const findings = wantsFindings(body);
  if (body.response_format) {
    return JSON.stringify({ results: chunks.map((c) => ({ id: c.id, value: findings ? { findings: findingsFor(c) } : {} })) });
  }
  return chunks.map((c) => `<result id="${c.id}">\n${findings ? JSON.stringify({ findings: findingsFor(c) }) : cannedText(c)}\n</result>`).join('\n');
}

/** The `batchPrompt.models` entry of the sample model served at `baseUrl` (loopback: no key). */
function sampleEndpoint(baseUrl) {
  return { id: 'sample-model', provider: 'openai', baseUrl, model: MODEL };
}

/** Serves the canned answers on 127.0.0.1 (`port` 0: any free port); resolves to the server and its base URL. */
function startSampleModel(port = 0) {
  const server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      const send = (status, value) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      if (req.method === 'GET' && /\/models$/.test(req.url || '')) return send(200, { object: 'list', data: [{ id: MODEL, object: 'model' }] });
      if (req.method !== 'POST' || !/\/chat\/completions$/.test(req.url || '')) return send(404, { error: { message: `not found: ${req.method} ${req.url}` } });
      let body;
      try {
        body = JSON.parse(raw);
      } catch {
        return send(400, { error: { message: 'the request body is not JSON' } });
      }
      const content = answer(body);
      const usage = { prompt_tokens: Math.ceil(raw.length / 4), completion_tokens: Math.ceil(content.length / 4) };
      usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
      if (body.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(`data: ${JSON.stringify({ id: 'canned', object: 'chat.completion.chunk', model: MODEL, choices: [{ index: 0, delta: { role: 'assistant', content }, finish_reason: null }] })}\n\n`);
        res.write(`data: ${JSON.stringify({ id: 'canned', object: 'chat.completion.chunk', model: MODEL, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage })}\n\n`);
        res.end('data: [DONE]\n\n');
        return undefined;
      }
      return send(200, { id: 'canned', object: 'chat.completion', model: MODEL, choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }], usage });
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve({ server, baseUrl: `http://127.0.0.1:${server.address().port}/v1` }));
  });
}

module.exports = { MODEL, sampleEndpoint, PLANTED_FINDINGS, answer, chunksOf, findingsFor, wantsFindings, wantsEdit, addDocComments, startSampleModel };
