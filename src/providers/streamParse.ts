/**
 * Incremental readers of streamed replies: server-sent events (OpenAI, Azure, Anthropic) and
 * newline-delimited JSON (Ollama). Both take decoded text in pieces of any size (a network chunk may end
 * in the middle of a line, of a `\r\n`, or of an event) and hand back only what is complete. Bytes are
 * decoded before they get here, by one streaming `TextDecoder` per reply (`decodeBody`), so a multi-byte
 * character split across network chunks arrives whole.
 */

/** One server-sent event: its `event:` name (`message` when none) and its `data:` lines joined by `\n`. */
export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

/**
 * The event-stream format of the HTML standard ("Server-sent events", parsing an event stream): lines end
 * in `\r\n`, `\n` or `\r`; a blank line dispatches the event; `:` starts a comment (keep-alives); a field
 * is `name: value` (one space after the colon dropped); several `data:` lines join with `\n`; an event
 * without data is dropped. One departure, on purpose: `end()` dispatches an event left without its
 * blank line at the end of the stream (the standard drops it), so that a server that closes right after
 * `data: [DONE]` is still read; a truncated event then fails its JSON parse instead of vanishing.
 */
export class SseParser {
  private buffer = '';
  /** The previous piece ended in `\r`: a `\n` opening the next piece belongs to that line end. */
  private afterCr = false;
  private data: string[] = [];
  private event = '';
  private id: string | undefined;

  /** Feeds the next piece of text; returns the events it completed. */
  push(text: string): SseEvent[] {
    if (text === '') return [];
    if (this.afterCr && text.startsWith('\n')) text = text.slice(1);
    this.afterCr = false;
    this.buffer += text;
    const out: SseEvent[] = [];
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const c = this.buffer.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      this.line(this.buffer.slice(start, i), out);
      if (c === 13) {
        if (i + 1 === this.buffer.length) this.afterCr = true;
        else if (this.buffer.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
    }
    this.buffer = this.buffer.slice(start);
    return out;
  }

  /** The end of the stream: a last line without its line end, and an event without its blank line. */
  end(): SseEvent[] {
    const out: SseEvent[] = [];
    if (this.buffer) this.line(this.buffer, out);
    this.buffer = '';
    this.line('', out);
    return out;
  }

  private line(line: string, out: SseEvent[]): void {
    if (line === '') {
      if (this.data.length) out.push({ event: this.event || 'message', data: this.data.join('\n'), ...(this.id !== undefined ? { id: this.id } : {}) });
      this.data = [];
      this.event = '';
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    else if (field === 'id' && !value.includes('\0')) this.id = value;
    // `retry` and unknown fields are ignored, as the standard says.
  }
}

/** Splits newline-delimited JSON into its lines (`\r\n` or `\n`; blank lines skipped), piece by piece. */
export class LineSplitter {
  private buffer = '';

  push(text: string): string[] {
    this.buffer += text;
    const parts = this.buffer.split('\n');
    this.buffer = parts.pop()!;
    return parts.map(trimCr).filter((l) => l.trim() !== '');
  }

  /** The last line, when the stream ended without a final newline. */
  end(): string[] {
    const rest = trimCr(this.buffer);
    this.buffer = '';
    return rest.trim() === '' ? [] : [rest];
  }
}

function trimCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/** The events of a stream of decoded text pieces. */
export async function* sseEvents(text: AsyncIterable<string>): AsyncGenerator<SseEvent> {
  const parser = new SseParser();
  for await (const piece of text) yield* parser.push(piece);
  yield* parser.end();
}

/** The lines of a stream of decoded newline-delimited JSON. */
export async function* ndjsonLines(text: AsyncIterable<string>): AsyncGenerator<string> {
  const splitter = new LineSplitter();
  for await (const piece of text) yield* splitter.push(piece);
  yield* splitter.end();
}
