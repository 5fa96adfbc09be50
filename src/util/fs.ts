import { close, constants, fstat, open, promises as fs, read } from 'fs';

/** Opens `file` for reading without blocking on it: a FIFO in a file's place does not hold a thread-pool thread forever. */
const READ_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

/**
 * Reads `fd` from its start into a buffer of `size` bytes plus one: a short read is the end of the
 * file (a regular file's reads are short only there); a full buffer means it grew since `size` was
 * known, and the buffer doubles until the end. Closes `fd`, then calls back with the bytes read.
 */
function readToEnd(fd: number, size: number, callback: (error: Error | null, bytes?: Buffer) => void): void {
  const done = (error: Error | null, bytes?: Buffer) => close(fd, () => callback(error, bytes));
  let bytes: Buffer;
  try {
    bytes = Buffer.allocUnsafe(size + 1);
  } catch (e) {
    return done(e as Error);
  }
  const readFrom = (offset: number): void => {
    if (offset === bytes.length) {
      const grown = Buffer.allocUnsafe(bytes.length * 2);
      bytes.copy(grown);
      bytes = grown;
    }
    const wanted = bytes.length - offset;
    read(fd, bytes, offset, wanted, offset, (readError, n) => {
      if (readError) return done(readError);
      if (n < wanted) return done(null, bytes.subarray(0, offset + n));
      readFrom(offset + n);
    });
  };
  readFrom(0);
}

/**
 * The bytes of `file`, whose size was just stat'ed (`size`): open, read, close, three thread-pool round
 * trips where `fs.readFile` takes four (and `fs.promises.readFile` more, each step a promise of its
 * own); for many small files that is most of their cost (`npm run bench -- planning`). A file that grew
 * meanwhile is read to its end all the same.
 */
export function readBytes(file: string, size: number, signal?: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    open(file, READ_FLAGS, (openError, fd) => {
      if (openError) return reject(openError);
      readToEnd(fd, size, (error, bytes) => (error ? reject(error) : signal?.aborted ? reject(signal.reason) : resolve(bytes!)));
    });
  });
}

/**
 * The bytes of `file` and its modification time, from one open (open, fstat, read, close). Anything
 * but a regular file, or a file over `maxBytes`, is refused unread.
 */
export function readBytesAndTime(file: string, maxBytes = Number.MAX_SAFE_INTEGER): Promise<{ bytes: Buffer; mtimeMs: number }> {
  return new Promise((resolve, reject) => {
    open(file, READ_FLAGS, (openError, fd) => {
      if (openError) return reject(openError);
      fstat(fd, (statError, stat) => {
        if (statError || !stat.isFile() || stat.size > maxBytes) {
          return close(fd, () => reject(statError ?? new RangeError(`${file} is not a file of at most ${maxBytes} bytes`)));
        }
        readToEnd(fd, stat.size, (error, bytes) => (error ? reject(error) : resolve({ bytes: bytes!, mtimeMs: stat.mtimeMs })));
      });
    });
  });
}

/** The parsed JSON of `file`, or undefined when it is missing, unreadable or not JSON (never throws). */
export async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** True when `file` exists (and can be seen by this process). */
export function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}
