import * as vscode from 'vscode';
import { CanceledError, ModelNotFoundError, NoPermissionError, RateLimitedError, TransientError, ContextOverflowError } from '../core/execute/errors';
import type { ChatModel, ChatRequest, ChatResponse, CompleteOptions } from '../core/execute/model';

/** Prefix of the ids of Language Model API models in run records and the model picker. */
export const LM_API_PREFIX = 'vscode-lm:';

/** Share of `maxInputTokens` the packer may use: the API's own counting is known to be off for messages. */
const SAFETY = 0.9;

/**
 * A chat model of VS Code's Language Model API (Copilot, or any registered provider). There is no
 * system message: the prompt leads the first user message. The API sends no rate-limit headers, so the
 * engine's adaptive concurrency keeps it healthy; `Blocked` counts as a rate limit.
 */
export class LanguageModelApiModel implements ChatModel {
  readonly id: string;
  readonly contextWindow: number;
  readonly supportsSystemMessage = false;
  readonly maxOutputTokens?: number;

  constructor(private readonly chat: vscode.LanguageModelChat) {
    this.id = `${LM_API_PREFIX}${chat.id}`;
    this.contextWindow = Math.floor(chat.maxInputTokens * SAFETY);
  }

  /** Counts a string (not a message object, which the API miscounts). */
  async countTokens(text: string): Promise<number> {
    return this.chat.countTokens(text);
  }

  /** The API reports no usage: both sides are counted with the model's own counter (strings, not messages). */
  private async usage(input: string, output: string, token: vscode.CancellationToken): Promise<{ inputTokens: number; outputTokens: number }> {
    try {
      const [inputTokens, outputTokens] = await Promise.all([this.chat.countTokens(input, token), this.chat.countTokens(output, token)]);
      return { inputTokens, outputTokens };
    } catch {
      return { inputTokens: 0, outputTokens: 0 };
    }
  }

  /** The API always streams; `onText`, when given, receives each fragment as it arrives. */
  async complete(request: ChatRequest, { signal, onText }: CompleteOptions): Promise<ChatResponse> {
    if (signal.aborted) throw new CanceledError();
    const text = request.messages.map((m) => m.content).join('\n\n');
    const messages = [vscode.LanguageModelChatMessage.User(text)];
    const cts = new vscode.CancellationTokenSource();
    const onAbort = () => cts.cancel();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const response = await this.chat.sendRequest(messages, { justification: 'Batch Prompt sends the chunks of the files you selected with your prompt.' }, cts.token);
      let out = '';
      for await (const part of response.text) {
        out += part;
        if (part) onText?.(part);
      }
      if (signal.aborted) throw new CanceledError();
      return { text: out, finishReason: 'stop', usage: await this.usage(text, out, cts.token) };
    } catch (e) {
      throw mapLanguageModelError(e, signal);
    } finally {
      signal.removeEventListener('abort', onAbort);
      cts.dispose();
    }
  }
}

/** Maps `LanguageModelError` codes to the engine's typed errors. */
export function mapLanguageModelError(e: unknown, signal?: AbortSignal): Error {
  if (signal?.aborted || e instanceof vscode.CancellationError) return new CanceledError();
  if (e instanceof CanceledError) return e;
  if (e instanceof vscode.LanguageModelError) {
    switch (e.code) {
      case vscode.LanguageModelError.NoPermissions.name:
        return new NoPermissionError(`The model refused access: allow Batch Prompt to use it (run again and accept the consent dialog, or check "Manage Language Model Access" in the Accounts menu). ${e.message}`);
      case vscode.LanguageModelError.Blocked.name:
        return new RateLimitedError(`The model is temporarily blocked (too many requests): ${e.message}`);
      case vscode.LanguageModelError.NotFound.name:
        return new ModelNotFoundError(`The model is no longer available: ${e.message}`);
      default:
        if (/context|too long|token limit/i.test(e.code)) return new ContextOverflowError(`The request is larger than the model accepts: ${e.message}`);
        return new TransientError(`The model failed (${e.code}): ${e.message}`);
    }
  }
  return new TransientError(e instanceof Error ? e.message : String(e));
}

/** The chat models VS Code offers now (may ask nothing: consent is asked on the first request). */
export async function listLanguageModels(): Promise<vscode.LanguageModelChat[]> {
  try {
    return await vscode.lm.selectChatModels();
  } catch {
    return [];
  }
}
