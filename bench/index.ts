// Benchmarks: printed figures only, never assertions (see README, "Benchmarks").
//   npm run bench                 everything
//   npm run bench -- chunking     one part (chunking | executor | pool | endpoints | memory | stream | estimate | structured | edit | reduce | planning)
import { runChunkingBench } from './chunking';
import { runEditBench } from './edit';
import { runEndpointsBench } from './endpoints';
import { runEstimateBench } from './estimate';
import { runExecutorBench } from './executor';
import { runMemoryBench } from './memory';
import { runPlanningBench } from './planning';
import { runPoolBench } from './pool';
import { runReduceBench } from './reduce';
import { runStreamBench } from './stream';
import { runStructuredBench } from './structured';

const parts: Record<string, () => Promise<void>> = {
  chunking: runChunkingBench,
  executor: runExecutorBench,
  pool: runPoolBench,
  endpoints: runEndpointsBench,
  memory: runMemoryBench,
  stream: runStreamBench,
  estimate: runEstimateBench,
  structured: runStructuredBench,
  edit: runEditBench,
  reduce: runReduceBench,
  planning: runPlanningBench,
};

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => a in parts);
  for (const [name, run] of Object.entries(parts)) {
    if (wanted.length === 0 || wanted.includes(name)) await run();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
