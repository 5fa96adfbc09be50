import { main } from './cli/main';

// Ctrl-C cancels cleanly (requests aborted, finished results kept); a second Ctrl-C quits at once.
const controller = new AbortController();
let interrupts = 0;
process.on('SIGINT', () => {
  if (++interrupts > 1) process.exit(130);
  process.stderr.write('\nCanceling… (Ctrl-C again to quit at once)\n');
  controller.abort();
});

main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd(), signal: controller.signal }).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`batch-prompt: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
