import * as http from 'http';
import type { AddressInfo, Socket } from 'net';

/**
 * The plumbing every fake server of the tests shares: listen on 127.0.0.1 at a free port, and on
 * `stop()` destroy open sockets (a hanging request must not keep the test run alive).
 */
export abstract class LocalServer {
  private server?: http.Server;
  private readonly sockets = new Set<Socket>();
  /** TCP connections accepted since the server started (a keep-alive pool reuses them). */
  connectionsOpened = 0;

  /** Starts listening; resolves with `http://127.0.0.1:PORT`. */
  protected async listen(): Promise<string> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (s) => {
      this.connectionsOpened++;
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Starts the server; resolves with its base URL. */
  abstract start(): Promise<string>;

  /** Forgets the requests served and the script, so that each test starts from a plain server. */
  abstract reset(): void;

  protected abstract handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void>;
}

/**
 * Runs `server` for the enclosing mocha `describe`: started before its tests (the base URL goes to
 * `onUrl`), reset before each one, stopped after them.
 */
export function useServer(server: LocalServer, onUrl: (url: string) => void): void {
  before(async () => onUrl(await server.start()));
  after(() => server.stop());
  beforeEach(() => server.reset());
}

/** The request's body parsed as JSON; `{}` when it is not JSON (served like an empty body). */
export async function readJsonBody<T extends object>(req: http.IncomingMessage): Promise<Partial<T>> {
  const raw = await new Promise<string>((resolve) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (data += d));
    req.on('end', () => resolve(data));
  });
  try {
    return JSON.parse(raw) as Partial<T>;
  } catch {
    return {};
  }
}
