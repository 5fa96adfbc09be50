import { close, constants, fstat, open, promises as fs, read, readFile as readFileWithCallback } from 'fs';

/**
 * The bytes of `file`, read by the callback `readFile`: for many small files several times cheaper
 * than `fs.promises.readFile`, whose every step is a promise of its own (`npm run bench -- planning`).
 */
export function readBytes(file: string, signal?: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => readFileWithCallback(file, { signal }, (error, data) => (error ? reject(error) : resolve(data))));
}

/**
 * The bytes of `file` and its modification time, from one open (open, fstat, read, close: the steps
 * `readBytes` takes, so the time costs nothing more). Anything but a regular file, or a file over
 * `maxBytes`, is refused unread.
 */
export function readBytesAndTime(file: string, maxBytes = Number.MAX_SAFE_INTEGER): Promise<{ bytes: Buffer; mtimeMs: number }> {
  return new Promise((resolve, reject) => {
    // Non-blocking: a FIFO in the file's place does not hold a thread-pool thread forever (refused below).
    open(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0), (openError, fd) => {
      if (openError) return reject(openError);
      const done = (error: Error | null, value?: { bytes: Buffer; mtimeMs: number }) => close(fd, () => (error ? reject(error) : resolve(value!)));
      fstat(fd, (statError, stat) => {
        if (statError) return done(statError);
        if (!stat.isFile() || stat.size > maxBytes) return done(new RangeError(`${file} is not a file of at most ${maxBytes} bytes`));
        let bytes: Buffer;
        try {
          bytes = Buffer.allocUnsafe(stat.size);
        } catch (e) {
          return done(e as Error);
        }
        const readFrom = (offset: number): void => {
          if (offset === bytes.length) return done(null, { bytes, mtimeMs: stat.mtimeMs });
          read(fd, bytes, offset, bytes.length - offset, offset, (readError, n) => {
            if (readError) return done(readError);
            // Shorter than its size said (truncated meanwhile): what was there.
            if (n === 0) return done(null, { bytes: bytes.subarray(0, offset), mtimeMs: stat.mtimeMs });
            readFrom(offset + n);
          });
        };
        readFrom(0);
      });
    });
  });
}

/** The parsed JSON of `file`, or undefined when it is missing, unreadable or not JSON (never throws). */
export async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse((await readBytes(file)).toString('utf8')) as T;
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
