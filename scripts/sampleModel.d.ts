// Types of scripts/sampleModel.js (plain JS, run by `npm start` without a build) for its unit tests.
import type { Server } from 'http';

export interface PlantedFinding {
  line: number;
  endLine?: number;
  severity: 'error' | 'warning' | 'info' | 'hint';
  /** Text the line holds (checked by the unit test, left out of the answers). */
  anchor: string;
  message: string;
  rule: string;
  suggestion: string;
}

export const MODEL: string;
export const PLANTED_FINDINGS: Record<string, PlantedFinding[]>;
export function answer(body: unknown): string;
/** The `batchPrompt.models` entry of the sample model served at `baseUrl`. */
export function sampleEndpoint(baseUrl: string): { id: string; provider: 'openai'; baseUrl: string; model: string };
/** The chunks of a request's messages: id, path and line range. */
export function chunksOf(messages: unknown): { id: string; path: string; startLine: number; endLine: number }[];
export function startSampleModel(port?: number): Promise<{ server: Server; baseUrl: string }>;
/** True for an edit run's request (#15): its chunks hold `<edit lines="…">` parts. */
export function wantsEdit(body: unknown): boolean;
/** The canned rewrite of an edit part of the file at `path`: doc comments above its exported functions. */
export function addDocComments(part: string, path: string): string;
