/**
 * Incremental readers of streamed replies: server-sent events (OpenAI, Azure, Anthropic) and
 * newline-delimited JSON (Ollama). Both take decoded text in pieces of any size (a network chunk may end
 * in the middle of a line, of a `\r\n`, or of an event) and hand back only what is complete. Bytes are
 * decoded before they get here, by one streaming `TextDecoder` per reply (`decodeBody`), so a multi-byte
 * character split across network chunks arrives whole.
 */
import { createParser, type EventSourceParser } from 'eventsource-parser';

/** One server-sent event: its `event:` name (`message` when none) and its `data:` lines joined by `\n`. */
export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

/**
 * The event-stream format of the HTML standard ("Server-sent events", parsing an event stream), read by
 * `eventsource-parser`: lines end in `\r\n`, `\n` or `\r`; a blank line dispatches the event; `:` starts
 * a comment (keep-alives); several `data:` lines join with `\n`; an event without data is dropped; `id`
 * is the last one seen, as the standard keeps it. One departure, on purpose: `end()` dispatches an event
 * left without its blank line at the end of the stream (the standard drops it), so that a server that
 * closes right after `data: [DONE]` is still read; a truncated event then fails its JSON parse instead
 * of vanishing.
 */
export class SseParser {
  private out: SseEvent[] = [];
  private lastId: string | undefined;
  private readonly parser: EventSourceParser = createParser({
    onEvent: (e) => {
      if (e.id !== undefined) this.lastId = e.id;
      this.out.push({ event: e.event ?? 'message', data: e.data, ...(this.lastId !== undefined ? { id: this.lastId } : {}) });
    },
  });

  /** Feeds the next piece of text; returns the events it completed. */
  push(text: string): SseEvent[] {
    this.parser.feed(text);
    return this.take();
  }

  /** The end of the stream: a last line without its line end, and an event without its blank line. */
  end(): SseEvent[] {
    // Ends the last line (joining a `\r` left at the end into one `\r\n`), then blanks it: dispatches.
    this.parser.feed('\n\n');
    this.parser.reset();
    return this.take();
  }

  private take(): SseEvent[] {
    const events = this.out;
    if (events.length) this.out = [];
    return events;
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
