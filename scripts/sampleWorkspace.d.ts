// Types of scripts/sampleWorkspace.js (plain JS, run by `npm start` without a build) for the UI scenario.

export function sampleContents(sampleDir: string): Record<string, Buffer>;
export function writeSampleFiles(contents: Record<string, Buffer>, target: string, rels?: string[]): void;
export function copySampleWorkspace(sampleDir: string, target: string): string[];
