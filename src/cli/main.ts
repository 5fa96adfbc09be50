/** Entry of the `batch-prompt` command line. Returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--version')) {
    process.stdout.write('0.1.0\n');
    return 0;
  }
  process.stderr.write('usage: batch-prompt <plan|run> [options] <paths…>\n');
  return 1;
}
