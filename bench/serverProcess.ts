// A model server in its own process, so that the benchmark's CPU figures are the client's alone.
// Usage: node out/bench/serverProcess.js DELAY_MS  → prints the base URL on stdout, then serves.
import { ModelServer } from '../test/support/modelServer';

const delayMs = Number(process.argv[2] ?? '0');
const server = new ModelServer();
server.script = () => ({ kind: 'ok', delayMs });
// Keep no request log: a long benchmark must not grow the server's memory.
const requests = server.requests;
setInterval(() => (requests.length = 0), 1000).unref();
void server.start().then((url) => process.stdout.write(`${url}\n`));
process.on('SIGTERM', () => void server.stop().then(() => process.exit(0)));
