// One file per command of `batch-prompt`: each takes the parsed options and the process's streams and
// returns the exit code. What several commands share lives one level up in src/cli/ (planning.ts: the
// prompt and the plan; models.ts: the endpoints named; jobs.ts: a run folder's batch job; runOutput.ts:
// progress and outcome). The rules the editor applies too (parameters, model info, tokenizer, refusals)
// live in core/session.
import type { Io } from '../io';
import type { CliOptions } from '../options';
import { applyCommand } from './apply';
import { cancelCommand } from './cancel';
import { collectCommand } from './collect';
import { mergeCommand } from './merge';
import { planCommand } from './plan';
import { reduceCommand } from './reduce';
import { resumeCommand } from './resume';
import { runCommand } from './run';
import { statusCommand } from './status';
import { submitCommand } from './submit';

export type CommandHandler = (opts: CliOptions, io: Io) => Promise<number>;

/** The handler of each command that does work (`help` and `version` are answered by main). */
export const COMMANDS: Readonly<Record<Exclude<CliOptions['command'], 'help' | 'version'>, CommandHandler>> = {
  plan: planCommand,
  run: runCommand,
  resume: resumeCommand,
  reduce: reduceCommand,
  submit: submitCommand,
  status: statusCommand,
  collect: collectCommand,
  cancel: cancelCommand,
  merge: mergeCommand,
  apply: applyCommand,
};
