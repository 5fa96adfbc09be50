// What a UI scenario sets up around the workbench: local model servers in this (mocha) process, the
// user settings of the code-server profile, and the workspace folder the tier copied from
// test/fixtures/ui-workspace (scripts/tiers/ui.js passes their paths through the environment).
import * as fs from 'fs';
import * as path from 'path';
import { AnthropicServer } from '../../support/anthropicServer';
import { BatchServer } from '../../support/batchServer';
import { ModelServer } from '../../support/modelServer';

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run UI scenarios through \`npm run test:ui\``);
  return value;
}

/** The workspace folder the workbench opens (a fresh copy of test/fixtures/ui-workspace). */
export function workspaceDir(): string {
  return env('BATCH_PROMPT_UI_WORKSPACE');
}

/** Default `batchPrompt.outputDirectory`, relative to the workspace. */
export const RUNS_DIR = '.batch-prompt/runs';

/** Removes the results of earlier scenarios, so that each one's Failed Chunks view lists only its own runs. */
export function removeRuns(): void {
  fs.rmSync(path.join(workspaceDir(), '.batch-prompt'), { recursive: true, force: true });
}

/** Run folders (names) under the default output directory, sorted. */
export function runFolders(): string[] {
  const dir = path.join(workspaceDir(), RUNS_DIR);
  // Folders only: the runs folder also holds its own .gitignore.
  return fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort() : [];
}

/** The only run folder (absolute); fails when there is none or several. */
export function onlyRunFolder(): string {
  const runs = runFolders();
  if (runs.length !== 1) throw new Error(`expected one run folder under ${RUNS_DIR}, found ${runs.length}: ${runs.join(', ')}`);
  return path.join(workspaceDir(), RUNS_DIR, runs[0]);
}

/** Files under `rel` (a workspace folder), relative to the workspace with forward slashes, sorted. */
export function filesUnder(rel: string): string[] {
  const root = workspaceDir();
  const dir = path.join(root, ...rel.split('/'));
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}

/**
 * What the installed extension wrote to its log ("Batch Prompt" output channel) in this tier's profile:
 * every window's log file, oldest first.
 */
export function extensionLog(): string {
  const logs = path.join(path.dirname(path.dirname(env('BATCH_PROMPT_UI_USER_SETTINGS'))), 'logs');
  if (!fs.existsSync(logs)) return '';
  return fs
    .readdirSync(logs, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name === 'Batch Prompt.log')
    .map((e) => path.join(e.parentPath, e.name))
    .sort()
    .map((f) => fs.readFileSync(f, 'utf8'))
    .join('\n');
}

// Each scenario file is bundled on its own: the profile's original settings are kept on globalThis,
// which all of them share in the mocha process.
const BASE_KEY = '__batchPromptUiBaseUserSettings';

/**
 * Writes the profile's user settings: the ones the tier started with, plus `extra`. A window opened
 * afterwards reads them; the extension reads `batchPrompt.*` when a run starts.
 */
export function writeUserSettings(extra: Record<string, unknown>): void {
  const file = env('BATCH_PROMPT_UI_USER_SETTINGS');
  const g = globalThis as { [BASE_KEY]?: Record<string, unknown> };
  g[BASE_KEY] ??= JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(file, JSON.stringify({ ...g[BASE_KEY], ...extra }, null, 2));
}

/** The model the scenarios run on, and a second one so that the model quick pick is offered. */
export const MODEL = { id: 'local', model: 'ui-test-model' };
export const OTHER_MODEL = { id: 'other-local', model: 'ui-other-model' };

/** `batchPrompt.models` for a local OpenAI-compatible server (loopback: no key needed). */
export function localModels(baseUrl: string): Record<string, unknown>[] {
  return [MODEL, OTHER_MODEL].map((m) => ({ ...m, provider: 'openai', baseUrl }));
}

/** Rejects when `p` has not settled within `ms`. */
function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Call inside a `describe`, before `useWorkbench`: a local server on 127.0.0.1 (a free port) for the
 * scenario's tests, started before them and stopped after them, also when they fail.
 */
function useServer<S extends { start(): Promise<string>; stop(): Promise<void> }>(make: () => S): { server: () => S; url: () => string } {
  let server: S | undefined;
  let url = '';
  before(async () => {
    server = make();
    url = await bounded(server.start(), 5000, 'starting the local model server');
  });
  after(async () => {
    // stop() destroys open sockets (a hanging request included), so it returns promptly.
    await bounded(server?.stop() ?? Promise.resolve(), 5000, 'stopping the local model server');
  });
  return {
    server: () => {
      if (!server) throw new Error('the local model server did not start');
      return server;
    },
    url: () => url,
  };
}

export function useModelServer(): { server: () => ModelServer; url: () => string } {
  return useServer(() => new ModelServer());
}

export function useAnthropicServer(): { server: () => AnthropicServer; url: () => string } {
  return useServer(() => new AnthropicServer());
}

/** A fake of the providers' batch services (OpenAI Batch API, Anthropic Message Batches). */
export function useBatchServer(): { server: () => BatchServer; url: () => string } {
  return useServer(() => new BatchServer());
}

/** Resolves when `condition` holds, polling; rejects naming `what` after `ms`. */
export async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
