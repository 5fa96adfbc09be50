// A model server in its own process, so that the benchmark's CPU figures are the client's alone.
// Usage: node out/bench/serverProcess.js DELAY_MS [PIECE_MS]  → prints the base URL on stdout, then serves.
// With PIECE_MS, a reply takes PIECE_MS per piece of 5 characters: streamed as it goes, or whole at the end.
import { ModelServer, replyFor } from '../test/support/modelServer';
import { textDeltas } from '../test/support/streamWriter';

const delayMs = Number(process.argv[2] ?? '0');
const pieceMs = Number(process.argv[3] ?? '0');
const server = new ModelServer();
server.script = (r) => {
  if (!pieceMs) return { kind: 'ok', delayMs };
  if (r.body.stream === true) return { kind: 'ok', stream: { pieceDelayMs: pieceMs } };
  // As long as the stream takes: its text pieces plus five more (a comment, the role, the finish, the usage, [DONE]).
  return { kind: 'ok', delayMs: (textDeltas(replyFor(r.chunks)).length + 5) * pieceMs };
};
// Keep no request log: a long benchmark must not grow the server's memory.
const requests = server.requests;
setInterval(() => (requests.length = 0), 1000).unref();
void server.start().then((url) => process.stdout.write(`${url}\n`));
process.on('SIGTERM', () => void server.stop().then(() => process.exit(0)));
