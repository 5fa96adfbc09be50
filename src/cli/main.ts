// The `batch-prompt` command line: src/cli/main.ts parses the arguments and hands them to the
// command's handler in commands/ (one file each). The other files here are what several commands
// share; the rules the editor shares live in core/session.
import { TOOL_VERSION } from '../core/output/sarif';
import { COMMANDS } from './commands';
import { defaultIo, type Io } from './io';
import { parseCli, USAGE, UsageError, type CliOptions } from './options';

const VERSION = TOOL_VERSION;

/** Entry of the `batch-prompt` command line. Returns the process exit code (0, 1 fatal, 2 some failed, 3 job still running, 4 findings at --fail-on). */
export async function main(argv: string[], io: Io = defaultIo()): Promise<number> {
  let opts: CliOptions;
  try {
    opts = parseCli(argv, io.env);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`batch-prompt: ${e.message}\n\n${USAGE}\n`);
      return 1;
    }
    throw e;
  }
  if (opts.command === 'help') {
    io.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (opts.command === 'version') {
    io.stdout.write(`${VERSION}\n`);
    return 0;
  }
  return COMMANDS[opts.command](opts, io);
}
