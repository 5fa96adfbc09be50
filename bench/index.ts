// Benchmarks: printed figures only, never assertions (see README, "Benchmarks").
import { runChunkingBench } from './chunking';

async function main(): Promise<void> {
  await runChunkingBench();
}

void main();
