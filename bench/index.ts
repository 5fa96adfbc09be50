// Benchmarks: printed figures only, never assertions (see README, "Benchmarks").
async function main(): Promise<void> {
  console.log('benchmarks: none yet');
}

void main();
