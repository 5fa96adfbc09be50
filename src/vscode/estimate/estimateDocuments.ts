import * as vscode from 'vscode';

/** The scheme of the read-only estimate documents. */
export const ESTIMATE_SCHEME = 'batch-prompt-estimate';
/** Estimates kept readable (reopening a tab after a reload asks the provider again); older ones are forgotten. */
const KEEP = 10;

/**
 * Read-only Markdown documents (`batch-prompt-estimate:/<n>/Batch Prompt estimate.md`) for "Estimate
 * Run…". An untitled document would be "dirty": closing it would ask to save an estimate nobody wants
 * to keep, and hot exit would bring it back into every later window.
 */
export class EstimateDocuments implements vscode.TextDocumentContentProvider {
  private readonly texts = new Map<string, string>();
  private count = 0;

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.toString()) ?? 'This estimate is no longer kept: run "Batch Prompt: Estimate Run…" again.';
  }

  /** Opens `markdown` as a new read-only estimate document. */
  async show(markdown: string): Promise<vscode.TextEditor> {
    const uri = vscode.Uri.from({ scheme: ESTIMATE_SCHEME, path: `/${++this.count}/Batch Prompt estimate.md` });
    this.texts.set(uri.toString(), markdown);
    while (this.texts.size > KEEP) this.texts.delete(this.texts.keys().next().value!);
    const doc = await vscode.workspace.openTextDocument(uri);
    return vscode.window.showTextDocument(doc, { preview: true });
  }
}

