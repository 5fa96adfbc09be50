/** Where a CLI command reads and writes: the process's streams, environment and folder, or a test's. */
export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Aborts the run (Ctrl-C). */
  signal?: AbortSignal;
  /** A test's hook: `run` awaits it before planning each file (it makes planning observable; #17). */
  beforePlanningFile?: (path: string) => Promise<void> | void;
}

export function defaultIo(): Io {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}
