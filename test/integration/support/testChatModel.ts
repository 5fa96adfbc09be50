// A chat model of VS Code's Language Model API, registered by the test for the vendor the companion
// manifest contributes (test/fixtures/lm-provider-extension; VS Code accepts a provider only for a
// contributed vendor). It answers Batch Prompt's chunk protocol like test/support/modelServer.ts, and
// a `script` decides per request: answer, throw (a LanguageModelError), or hold until a promise settles
// (then answer, or throw what it rejected with) or the request is cancelled.
import * as vscode from 'vscode';
import { parseChunks, replyFor, type RequestChunk } from '../../support/modelServer';

/** Must match test/fixtures/lm-provider-extension/package.json. */
export const TEST_VENDOR = 'batch-prompt-test';
export const COMPANION_ID = 'batch-prompt-test.lm-provider';

export interface LmRequest {
  /** 1-based order of arrival. */
  n: number;
  text: string;
  chunks: RequestChunk[];
  /** Requests in flight when this one arrived, itself included. */
  inFlightAtArrival: number;
  /** Set when the caller cancelled the request. */
  canceled: boolean;
  token: vscode.CancellationToken;
}

export type LmBehaviour = { kind: 'ok' } | { kind: 'throw'; error: Error } | { kind: 'hold'; until: Promise<void> } | { kind: 'hang' };

export class TestChatModel implements vscode.Disposable {
  readonly requests: LmRequest[] = [];
  script: (r: LmRequest) => LmBehaviour | undefined = () => undefined;
  inFlight = 0;
  private readonly registration: vscode.Disposable;

  constructor(readonly modelId: string, readonly maxInputTokens = 100_000) {
    this.registration = vscode.lm.registerLanguageModelChatProvider(TEST_VENDOR, {
      provideLanguageModelChatInformation: () => [
        { id: modelId, name: `Test ${modelId}`, family: 'batch-prompt-test', version: '1', maxInputTokens, maxOutputTokens: 4096, capabilities: {} },
      ],
      provideLanguageModelChatResponse: (_model, messages, _options, progress, token) => this.respond(messages, progress, token),
      provideTokenCount: async (_model, text) => Math.ceil((typeof text === 'string' ? text : textOf([text])).length / 4),
    });
  }

  /** The id Batch Prompt's model picker and `modelId` argument use. */
  get choiceId(): string {
    return `vscode-lm:${this.modelId}`;
  }

  /** Resolves once VS Code lists the model (registration reaches the workbench asynchronously). */
  async ready(): Promise<vscode.LanguageModelChat> {
    for (let i = 0; i < 100; i++) {
      const [chat] = await vscode.lm.selectChatModels({ vendor: TEST_VENDOR, id: this.modelId });
      if (chat) return chat;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`VS Code does not list the test chat model ${this.modelId}`);
  }

  dispose(): void {
    this.registration.dispose();
  }

  private async respond(messages: readonly vscode.LanguageModelChatRequestMessage[], progress: vscode.Progress<vscode.LanguageModelResponsePart>, token: vscode.CancellationToken): Promise<void> {
    const text = textOf(messages);
    this.inFlight++;
    const request: LmRequest = { n: this.requests.length + 1, text, chunks: parseChunks(text), inFlightAtArrival: this.inFlight, canceled: false, token };
    this.requests.push(request);
    const onCancel = token.onCancellationRequested(() => (request.canceled = true));
    try {
      const b = this.script(request) ?? { kind: 'ok' };
      if (b.kind === 'throw') throw b.error;
      if (b.kind === 'hold' || b.kind === 'hang') {
        await new Promise<void>((resolve, reject) => {
          token.onCancellationRequested(() => resolve());
          if (b.kind === 'hold') b.until.then(resolve, reject);
        });
        if (token.isCancellationRequested) throw new vscode.CancellationError();
      }
      // Streamed in two parts, as real providers do.
      const reply = replyFor(request.chunks);
      const mid = Math.floor(reply.length / 2);
      progress.report(new vscode.LanguageModelTextPart(reply.slice(0, mid)));
      progress.report(new vscode.LanguageModelTextPart(reply.slice(mid)));
    } finally {
      onCancel.dispose();
      this.inFlight--;
    }
  }
}

function textOf(messages: readonly vscode.LanguageModelChatRequestMessage[]): string {
  return messages
    .flatMap((m) => m.content)
    .map((p) => (p instanceof vscode.LanguageModelTextPart ? p.value : typeof (p as { value?: unknown }).value === 'string' ? (p as { value: string }).value : ''))
    .join('\n');
}

/** A promise with its resolve function. */
export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
