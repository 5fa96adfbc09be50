// The decisions of `npm start` (scripts/start.js), kept free of I/O so they are unit-tested in plain
// Node (test/unit/tooling/start.test.ts): command-line options, the try-out's model endpoint and what to tell
// the user about its key, the user settings to write, which sample files to (re)copy into the try-out
// workspace, and the deterministic large sample file.
const { parseArgs } = require('util');

/** Providers `npm start` accepts (Azure needs a deployment URL and api-version: configure it in the settings). */
const PROVIDERS = ['openai', 'anthropic', 'ollama'];
/** Where each provider's key is read from, when it needs one. */
const KEY_ENV = { openai: 'OPENAI_API_KEY', anthropic: 'ANTHROPIC_API_KEY' };
/** The providers' default base URLs (src/providers/factory.ts, anthropic.ts, ollama.ts). */
const DEFAULT_BASE_URLS = { openai: 'https://api.openai.com/v1', anthropic: 'https://api.anthropic.com', ollama: 'http://127.0.0.1:11434' };
const OLLAMA_URL = DEFAULT_BASE_URLS.ollama;
/** The port tried first when none is given; any free port when it is taken. */
const DEFAULT_PORT = 8080;

const USAGE = `npm start [-- options]

Builds and packages the extension, installs it into a code-server profile in .vscode-test/try/, opens a
copy of sample/ there, and prints the URL to open in a browser. Ctrl-C stops it.

  --base-url URL    a model endpoint for the try-out (written to the profile's "batchPrompt.models")
  --model NAME      its model name (required with --base-url)
  --provider NAME   openai (any OpenAI-compatible server), anthropic or ollama; guessed from the URL
                    when left out (api.anthropic.com: anthropic, port 11434: ollama, else openai)
  --sample-model    a fake model on this machine with canned answers (no real model needed): "Find bugs"
                    puts the sample's planted bugs in the Problems panel; other prompts get a canned line
  --port N          serve on this port (default ${DEFAULT_PORT}, or a free port when ${DEFAULT_PORT} is taken)
  --fresh           start from a new profile and a new copy of the sample workspace
  -h, --help        this text

Keys: OPENAI_API_KEY / ANTHROPIC_API_KEY are never written to settings; run "Batch Prompt: Set API Key"
in the window, once per browser (endpoints on 127.0.0.1 need no key). Without --base-url, a local Ollama on
127.0.0.1:11434 is offered by the extension itself, then VS Code's Language Model API models.`;

class UsageError extends Error {}

/**
 * Parses `npm start` arguments.
 * @param {string[]} argv
 * @returns {{help: boolean, fresh: boolean, sampleModel?: true, port?: number, endpoint?: {id: string, provider: string, baseUrl: string, model: string}}}
 * @throws UsageError
 */
function parseStartArgs(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        'base-url': { type: 'string' },
        model: { type: 'string' },
        provider: { type: 'string' },
        port: { type: 'string' },
        fresh: { type: 'boolean', default: false },
        'sample-model': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (e) {
    throw new UsageError(e.message);
  }
  const out = { help: values.help, fresh: values.fresh };
  if (values.help) return out;
  if (values['sample-model']) out.sampleModel = true;
  if (out.sampleModel && (values['base-url'] !== undefined || values.model !== undefined || values.provider !== undefined)) {
    throw new UsageError('--sample-model is a model of its own: leave out --base-url, --model and --provider.');
  }
  if (values.port !== undefined) {
    const port = Number(values.port);
    if (!/^\d+$/.test(values.port) || port < 1 || port > 65535) throw new UsageError(`--port must be a port number (1-65535), got "${values.port}".`);
    out.port = port;
  }
  const baseUrl = values['base-url'];
  if (values.provider !== undefined && !PROVIDERS.includes(values.provider)) {
    throw new UsageError(`--provider must be one of ${PROVIDERS.join(', ')}, got "${values.provider}".`);
  }
  if (baseUrl === undefined && values.model === undefined) {
    if (values.provider !== undefined) throw new UsageError('--provider goes with --base-url URL --model NAME.');
    return out;
  }
  if (baseUrl === undefined) throw new UsageError('--model goes with --base-url URL (the endpoint to send the prompts to).');
  if (!values.model || !values.model.trim()) throw new UsageError('Name the model with --model NAME.');
  let url;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new UsageError(`--base-url is not a URL: "${baseUrl}".`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--base-url must be an http(s) URL, got "${baseUrl}".`);
  const provider = values.provider ?? inferProvider(baseUrl);
  out.endpoint = { id: endpointId(provider, baseUrl), provider, baseUrl: baseUrl.replace(/\/+$/, ''), model: values.model.trim() };
  return out;
}

/** The provider a base URL most likely speaks: Anthropic's API, Ollama's port, else OpenAI-compatible. */
function inferProvider(baseUrl) {
  const url = new URL(baseUrl);
  if (/(^|\.)anthropic\.com$/i.test(url.hostname)) return 'anthropic';
  if (url.port === '11434') return 'ollama';
  return 'openai';
}

/**
 * A stable `batchPrompt.models` id for an endpoint: provider and host. The extension stores the key
 * under this id, so a key set once still applies when the same endpoint is passed with another model.
 */
function endpointId(provider, baseUrl) {
  const host = new URL(baseUrl).host.toLowerCase();
  return `${provider}-${host}`.replace(/[^A-Za-z0-9._-]+/g, '-');
}

/** True for localhost, `*.localhost`, 127.0.0.0/8 and ::1 (the same rule as src/providers/factory.ts). */
function isLoopbackUrl(url) {
  let host;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return false;
  }
  host = host.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/** Whether the extension will refuse this endpoint without a key (src/providers/factory.ts, needsApiKey). */
function needsApiKey(endpoint) {
  switch (endpoint.provider) {
    case 'ollama':
      return false;
    case 'openai':
      return !isLoopbackUrl(endpoint.baseUrl ?? DEFAULT_BASE_URLS.openai);
    default:
      return true;
  }
}

/**
 * Which models the try-out will offer, in the issue's order, and what to print about them.
 * @param {object} input
 * @param {{id: string, provider: string, baseUrl: string, model: string}} [input.endpoint] from --base-url
 * @param {Record<string, string | undefined>} input.env the environment (only the key variables' presence is read)
 * @param {{answered: boolean, models: string[]}} input.ollama what 127.0.0.1:11434/api/tags answered
 * @param {number} [input.userEndpoints] entries of the user's own in the profile's "batchPrompt.models"
 * @returns {{source: 'endpoint' | 'user-settings' | 'ollama' | 'language-model-api', models: object[], lines: string[]}}
 *   `models`: the entries `npm start` writes into "batchPrompt.models" (none lets the extension offer Ollama)
 */
function chooseModels({ endpoint, env, ollama, userEndpoints = 0 }) {
  if (endpoint) {
    const lines = [`Model: ${endpoint.model} at ${endpoint.baseUrl} (${endpoint.provider}), as the endpoint "${endpoint.id}" in the profile's "batchPrompt.models".`];
    if (needsApiKey(endpoint)) {
      const variable = KEY_ENV[endpoint.provider];
      const where = env[variable] ? `paste the key from $${variable}` : `paste your key ($${variable} is not set here)`;
      lines.push(
        `Key: keys are never written to settings files, and this script cannot fill VS Code's secret storage. In the window, press F1, run "Batch Prompt: Set API Key", choose "${endpoint.id}" and ${where}. VS Code in a browser keeps secrets in that browser's storage for this address, so another browser, a private window or another port asks again: a run without the key stops with a "Set API Key" button.`,
      );
    } else {
      lines.push(endpoint.provider === 'ollama' ? 'Key: Ollama needs none.' : 'Key: none needed for an endpoint on this machine.');
    }
    return { source: 'endpoint', models: [endpoint], lines };
  }
  if (userEndpoints > 0) {
    return { source: 'user-settings', models: [], lines: [`Model: the ${userEndpoints} endpoint(s) you added to "batchPrompt.models" in this profile's settings.`] };
  }
  if (ollama.answered && ollama.models.length) {
    const names = ollama.models.slice(0, 5).join(', ') + (ollama.models.length > 5 ? `, … (${ollama.models.length})` : '');
    return { source: 'ollama', models: [], lines: [`Model: the local Ollama at ${OLLAMA_URL} (${names}); the extension offers its models by itself.`] };
  }
  const lines = [
    ollama.answered
      ? `Ollama answers at ${OLLAMA_URL} but has no model yet (\`ollama pull <model>\` adds one).`
      : `No endpoint passed and no Ollama answering at ${OLLAMA_URL}.`,
    'Model: the window offers VS Code\'s Language Model API models if a chat extension provides any; with none, the first run explains how to add one (the setting "batchPrompt.models", with an "Open Settings" button).',
    'Or restart with a model: npm start -- --base-url URL --model NAME [--provider openai|anthropic|ollama]',
    'Or with the canned sample model (no real model; "Find bugs" fills the Problems panel): npm start -- --sample-model',
  ];
  return { source: 'language-model-api', models: [], lines };
}

/** JSON with `//` and `/* *\/` comments and trailing commas (VS Code's settings.json) to a value. */
function parseJsonc(text) {
  let out = '';
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < n && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < n && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
    } else {
      out += c;
      i++;
    }
  }
  out = out.replace(/,(\s*[}\]])/g, '$1');
  return out.trim() ? JSON.parse(out) : {};
}

function sameJson(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The profile's user settings after this start: `baseline` keys added where the user has none (their
 * own changes stay), and in "batchPrompt.models" the entries an earlier start wrote (`previous`, still
 * unchanged) replaced by this start's `models`; entries the user added or edited are kept.
 * @param {Record<string, unknown>} current the settings now (`{}` on a first start)
 * @param {{baseline: Record<string, unknown>, models: object[], previous?: object[]}} opts
 * @returns {{settings: Record<string, unknown>, userEndpoints: number}} userEndpoints: the user's own entries kept
 */
function updateUserSettings(current, { baseline, models, previous = [] }) {
  const settings = { ...current };
  for (const [k, v] of Object.entries(baseline)) if (!(k in settings)) settings[k] = v;
  const existing = Array.isArray(settings['batchPrompt.models']) ? settings['batchPrompt.models'] : [];
  const ours = new Set(models.map((m) => m.id));
  const users = existing.filter((e) => !previous.some((p) => sameJson(p, e)) && !ours.has(e && e.id));
  const next = [...models, ...users];
  if (next.length) settings['batchPrompt.models'] = next;
  else delete settings['batchPrompt.models'];
  return { settings, userEndpoints: users.length };
}

/**
 * Which sample files to copy into the try-out workspace. A file is copied when the copy lacks it, or
 * when the copy still holds the version an earlier start wrote (`recorded`) and the sample has changed
 * since; a file the user edited in the copy is kept (and listed).
 * @param {Record<string, string>} sample path -> content hash of the sample (generated file included)
 * @param {Record<string, string | undefined>} copy path -> hash of the same path in the copy (undefined: missing)
 * @param {Record<string, string>} recorded path -> hash written by the previous start
 * @returns {{copy: string[], kept: string[], recorded: Record<string, string>}} recorded: to save for the next start
 */
function planWorkspaceSync(sample, copy, recorded) {
  const out = { copy: [], kept: [], recorded: {} };
  for (const [rel, hash] of Object.entries(sample)) {
    const now = copy[rel];
    if (now === undefined || (now !== hash && now === recorded[rel])) {
      out.copy.push(rel);
      out.recorded[rel] = hash;
    } else if (now === hash) {
      out.recorded[rel] = hash;
    } else {
      out.kept.push(rel);
      if (recorded[rel] !== undefined) out.recorded[rel] = recorded[rel];
    }
  }
  out.copy.sort();
  out.kept.sort();
  return out;
}

/**
 * What a .vsix holds, without the timestamps vsce writes anew on every package: the name, CRC-32 and
 * size of each entry in the zip's central directory. Two packages of the same files give the same
 * string, so a later start skips reinstalling an unchanged extension. Throws on a buffer that is not a zip.
 * @param {Buffer} zip
 * @returns {string}
 */
function vsixContentId(zip) {
  // End of central directory: signature, then the directory's size and offset; a comment may follow.
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 65535); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip file (no end of central directory)');
  const count = zip.readUInt16LE(eocd + 10);
  let p = zip.readUInt32LE(eocd + 16);
  const entries = [];
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(p) !== 0x02014b50) throw new Error('not a zip file (bad central directory entry)');
    const crc = zip.readUInt32LE(p + 16);
    const size = zip.readUInt32LE(p + 24);
    const nameLength = zip.readUInt16LE(p + 28);
    const extraLength = zip.readUInt16LE(p + 30);
    const commentLength = zip.readUInt16LE(p + 32);
    entries.push(`${zip.toString('utf8', p + 46, p + 46 + nameLength)}:${crc.toString(16)}:${size}`);
    p += 46 + nameLength + extraLength + commentLength;
  }
  return entries.sort().join('\n');
}

// --- the large sample file ------------------------------------------------------------------------

/** Deterministic PRNG (mulberry32). */
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ENTITIES = [
  'Warehouse', 'Supplier', 'PurchaseOrder', 'PurchaseOrderLine', 'StockItem', 'StockMovement', 'Carrier',
  'Shipment', 'Customer', 'CustomerAddress', 'SalesOrder', 'SalesOrderLine', 'Invoice', 'Payment', 'Refund',
  'PriceRule', 'Discount', 'TaxRate', 'ExchangeRate', 'Product', 'ProductVariant', 'Reservation', 'PickList',
];

/** Field pool: name, TypeScript type, kind (for validation and seed values). */
const FIELDS = [
  ['name', 'string', 'text'], ['code', 'string', 'code'], ['description', 'string', 'text'], ['quantity', 'number', 'int'],
  ['unitPriceCents', 'number', 'int'], ['weightGrams', 'number', 'int'], ['active', 'boolean', 'bool'],
  ['createdAt', 'string', 'date'], ['updatedAt', 'string', 'date'], ['dueDate', 'string', 'date'], ['email', 'string', 'email'],
  ['countryCode', 'string', 'country'], ['currency', "'EUR' | 'USD' | 'GBP'", 'currency'], ['notes', 'string', 'text'],
  ['priority', "'low' | 'normal' | 'high'", 'priority'], ['reference', 'string', 'code'], ['ownerId', 'string', 'id'],
  ['parentId', 'string', 'id'], ['sortOrder', 'number', 'int'], ['reorderLevel', 'number', 'int'],
];

const WORDS = [
  'north', 'harbour', 'amber', 'granite', 'cedar', 'delta', 'summit', 'willow', 'copper', 'meadow', 'orbit', 'falcon',
  'maple', 'quartz', 'river', 'signal', 'timber', 'velvet', 'harvest', 'lumen', 'pioneer', 'atlas', 'beacon', 'canyon',
];
const COUNTRIES = ['DE', 'FR', 'NL', 'GB', 'US', 'ES', 'IT', 'PL', 'SE', 'CA'];

function camel(s) {
  return s[0].toLowerCase() + s.slice(1);
}

function words(s) {
  return s.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
}

function snake(s) {
  return words(s).replace(/ /g, '_');
}

function seedValue(kind, r, i) {
  const w = () => WORDS[Math.floor(r() * WORDS.length)];
  switch (kind) {
    case 'text':
      return `'${w()[0].toUpperCase()}${w().slice(1)} ${w()}'`;
    case 'code':
      return `'${w().slice(0, 3).toUpperCase()}-${String(100 + Math.floor(r() * 900))}'`;
    case 'int':
      return String(Math.floor(r() * 5000));
    case 'bool':
      return r() < 0.8 ? 'true' : 'false';
    case 'date':
      return `'2025-${String(1 + Math.floor(r() * 12)).padStart(2, '0')}-${String(1 + Math.floor(r() * 28)).padStart(2, '0')}T0${Math.floor(r() * 10)}:00:00Z'`;
    case 'email':
      return `'${w()}.${w()}@example.com'`;
    case 'country':
      return `'${COUNTRIES[Math.floor(r() * COUNTRIES.length)]}'`;
    case 'currency':
      return `'${['EUR', 'USD', 'GBP'][Math.floor(r() * 3)]}'`;
    case 'priority':
      return `'${['low', 'normal', 'high'][Math.floor(r() * 3)]}'`;
    case 'id':
      return `'${w()}-${i + 1}'`;
  }
  throw new Error(`unknown kind ${kind}`);
}

function checkFor(entity, [field, , kind]) {
  const at = `${entity}.${field}`;
  switch (kind) {
    case 'int':
      return `  if (!Number.isInteger(v.${field}) || (v.${field} as number) < 0) errors.push('${at} must be a whole number of at least 0');`;
    case 'bool':
      return `  if (typeof v.${field} !== 'boolean') errors.push('${at} must be true or false');`;
    case 'date':
      return `  if (typeof v.${field} !== 'string' || Number.isNaN(Date.parse(v.${field}))) errors.push('${at} must be an ISO 8601 date');`;
    case 'email':
      return `  if (typeof v.${field} !== 'string' || !EMAIL.test(v.${field})) errors.push('${at} must be an e-mail address');`;
    case 'country':
      return `  if (typeof v.${field} !== 'string' || !/^[A-Z]{2}$/.test(v.${field})) errors.push('${at} must be an ISO 3166 country code');`;
    case 'currency':
      return `  if (!CURRENCIES.includes(v.${field} as Currency)) errors.push('${at} must be one of ' + CURRENCIES.join(', '));`;
    case 'priority':
      return `  if (!PRIORITIES.includes(v.${field} as Priority)) errors.push('${at} must be one of ' + PRIORITIES.join(', '));`;
    default:
      return `  if (typeof v.${field} !== 'string' || v.${field}.trim() === '') errors.push('${at} must be a non-empty string');`;
  }
}

function entityBlock(entity, index, r) {
  const count = 5 + Math.floor(r() * 5);
  const pool = FIELDS.slice();
  const fields = [];
  while (fields.length < count) fields.push(pool.splice(Math.floor(r() * pool.length), 1)[0]);
  const table = `${snake(entity)}s`;
  const lookup = fields.find((f) => f[2] === 'code' || f[2] === 'text') || fields[0];
  const numeric = fields.find((f) => f[2] === 'int');
  const L = [];
  L.push(`// --- ${entity} ${'-'.repeat(Math.max(0, 96 - entity.length))}`, '');
  L.push(`/** A ${words(entity)} as stored in the \`${table}\` table. */`);
  L.push(`export interface ${entity} {`, '  id: string;');
  for (const [f, type] of fields) L.push(`  ${f}: ${type};`);
  L.push('}', '');
  L.push(`/** Checks an untrusted value (a request body, a CSV row) against the ${entity} shape. */`);
  L.push(`export function validate${entity}(value: unknown): ValidationResult<${entity}> {`);
  L.push(`  if (typeof value !== 'object' || value === null) return { ok: false, errors: ['${entity} must be an object'] };`);
  L.push('  const v = value as Record<string, unknown>;', '  const errors: string[] = [];');
  L.push(`  if (typeof v.id !== 'string' || !ID.test(v.id)) errors.push('${entity}.id must be a lowercase id');`);
  for (const f of fields) L.push(checkFor(entity, f));
  L.push(`  return errors.length ? { ok: false, errors } : { ok: true, value: v as unknown as ${entity} };`, '}', '');
  L.push(`/** In-memory ${words(entity)} store with the queries the ${words(entity)} screens use. */`);
  L.push(`export class ${entity}Repository {`);
  L.push(`  private readonly rows = new Map<string, ${entity}>();`, '');
  L.push('  constructor(private readonly events: ChangeListener<' + entity + '> = () => undefined) {}', '');
  L.push(`  insert(row: ${entity}): ${entity} {`);
  L.push(`    const checked = validate${entity}(row);`);
  L.push(`    if (!checked.ok) throw new ValidationError('${entity}', checked.errors);`);
  L.push(`    if (this.rows.has(row.id)) throw new ConflictError('${entity}', row.id);`);
  L.push('    this.rows.set(row.id, { ...row });', "    this.events({ kind: 'insert', id: row.id, after: row });", '    return row;', '  }', '');
  L.push(`  findById(id: string): ${entity} | undefined {`, '    const row = this.rows.get(id);', '    return row && { ...row };', '  }', '');
  L.push(`  findBy${lookup[0][0].toUpperCase()}${lookup[0].slice(1)}(${lookup[0]}: ${lookup[1]}): ${entity}[] {`);
  L.push(`    return [...this.rows.values()].filter((row) => row.${lookup[0]} === ${lookup[0]}).map((row) => ({ ...row }));`, '  }', '');
  L.push(`  update(id: string, patch: Partial<Omit<${entity}, 'id'>>): ${entity} {`);
  L.push('    const before = this.rows.get(id);', `    if (!before) throw new NotFoundError('${entity}', id);`);
  L.push('    const after = { ...before, ...patch, id };', `    const checked = validate${entity}(after);`);
  L.push(`    if (!checked.ok) throw new ValidationError('${entity}', checked.errors);`);
  L.push("    this.rows.set(id, after);", "    this.events({ kind: 'update', id, before, after });", '    return { ...after };', '  }', '');
  L.push('  remove(id: string): boolean {', '    const before = this.rows.get(id);', '    if (!before) return false;');
  L.push('    this.rows.delete(id);', "    this.events({ kind: 'remove', id, before });", '    return true;', '  }', '');
  L.push(`  list(options: ListOptions<${entity}> = {}): Page<${entity}> {`);
  L.push(`    const sortKey = options.sortBy ?? 'id';`, "    const direction = options.descending ? -1 : 1;");
  L.push('    const all = [...this.rows.values()].sort((a, b) => compareValues(a[sortKey], b[sortKey]) * direction);');
  L.push('    const offset = Math.max(0, options.offset ?? 0);', `    const limit = Math.min(MAX_PAGE, Math.max(1, options.limit ?? DEFAULT_PAGE));`);
  L.push('    return { items: all.slice(offset, offset + limit).map((row) => ({ ...row })), total: all.length, offset, limit };', '  }');
  if (numeric) {
    L.push('', `  /** Sum of \`${numeric[0]}\` over the rows that match \`where\`. */`);
    L.push(`  total${numeric[0][0].toUpperCase()}${numeric[0].slice(1)}(where: (row: ${entity}) => boolean = () => true): number {`);
    L.push('    let sum = 0;', `    for (const row of this.rows.values()) if (where(row)) sum += row.${numeric[0]};`, '    return sum;', '  }');
  }
  L.push('}', '');
  L.push(`/** Rows loaded into a fresh ${words(entity)} store by the demo and the tests. */`);
  L.push(`export const ${snake(entity).toUpperCase()}_SEED: readonly ${entity}[] = [`);
  const rows = 4 + Math.floor(r() * 4);
  for (let i = 0; i < rows; i++) {
    const cells = [`id: '${camel(entity).toLowerCase()}-${index + 1}-${i + 1}'`, ...fields.map(([f, , kind]) => `${f}: ${seedValue(kind, r, i)}`)];
    L.push(`  { ${cells.join(', ')} },`);
  }
  L.push('];', '');
  return L.join('\n');
}

/** Path of the generated file in the try-out workspace. */
const LARGE_FILE_PATH = 'src/generated/inventory.ts';

/**
 * A ~120 KB TypeScript module of realistic generated code (entity types, validators, repositories,
 * seed rows), the same on every call: large enough that the chunker cuts it into several chunks of
 * 8,192 tokens. Written into the try-out workspace at start, so the repository stays small.
 * @returns {{path: string, text: string}}
 */
function generateLargeFile() {
  const r = rng(20250101);
  const head = [
    '// Generated by `npm start` (scripts/startOptions.js) for the Batch Prompt sample workspace: a large',
    '// module that Batch Prompt cuts into several chunks of 8,192 tokens. Regenerated identically on',
    '// every start; edit it freely in the try-out copy.',
    '',
    "export type Currency = 'EUR' | 'USD' | 'GBP';",
    "export type Priority = 'low' | 'normal' | 'high';",
    "export const CURRENCIES: readonly Currency[] = ['EUR', 'USD', 'GBP'];",
    "export const PRIORITIES: readonly Priority[] = ['low', 'normal', 'high'];",
    'const ID = /^[a-z0-9][a-z0-9-]*$/;',
    'const EMAIL = /^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$/i;',
    'const DEFAULT_PAGE = 25;',
    'const MAX_PAGE = 200;',
    '',
    'export type ValidationResult<T> = { ok: true; value: T } | { ok: false; errors: string[] };',
    '',
    'export interface ListOptions<T> {',
    '  sortBy?: keyof T;',
    '  descending?: boolean;',
    '  offset?: number;',
    '  limit?: number;',
    '}',
    '',
    'export interface Page<T> {',
    '  items: T[];',
    '  total: number;',
    '  offset: number;',
    '  limit: number;',
    '}',
    '',
    'export type Change<T> =',
    "  | { kind: 'insert'; id: string; after: T }",
    "  | { kind: 'update'; id: string; before: T; after: T }",
    "  | { kind: 'remove'; id: string; before: T };",
    'export type ChangeListener<T> = (change: Change<T>) => void;',
    '',
    'export class ValidationError extends Error {',
    '  constructor(readonly entity: string, readonly errors: string[]) {',
    "    super(`${entity} is not valid: ${errors.join('; ')}`);",
    '  }',
    '}',
    '',
    'export class ConflictError extends Error {',
    '  constructor(readonly entity: string, readonly id: string) {',
    '    super(`${entity} ${id} already exists`);',
    '  }',
    '}',
    '',
    'export class NotFoundError extends Error {',
    '  constructor(readonly entity: string, readonly id: string) {',
    '    super(`${entity} ${id} does not exist`);',
    '  }',
    '}',
    '',
    '/** Orders numbers numerically, strings by locale, booleans false first, missing values last. */',
    'export function compareValues(a: unknown, b: unknown): number {',
    '  if (a === b) return 0;',
    '  if (a === undefined || a === null) return 1;',
    '  if (b === undefined || b === null) return -1;',
    "  if (typeof a === 'number' && typeof b === 'number') return a - b;",
    "  if (typeof a === 'boolean' && typeof b === 'boolean') return a ? 1 : -1;",
    '  return String(a).localeCompare(String(b));',
    '}',
    '',
  ];
  const blocks = ENTITIES.map((e, i) => entityBlock(e, i, r));
  return { path: LARGE_FILE_PATH, text: `${head.join('\n')}\n${blocks.join('\n')}` };
}

module.exports = {
  PROVIDERS,
  KEY_ENV,
  DEFAULT_BASE_URLS,
  DEFAULT_PORT,
  OLLAMA_URL,
  USAGE,
  LARGE_FILE_PATH,
  UsageError,
  parseStartArgs,
  inferProvider,
  endpointId,
  isLoopbackUrl,
  needsApiKey,
  chooseModels,
  parseJsonc,
  updateUserSettings,
  planWorkspaceSync,
  vsixContentId,
  generateLargeFile,
};
