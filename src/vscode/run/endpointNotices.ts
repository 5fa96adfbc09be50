import type { RunEvent } from '../../core/execute/events';
import { endpointReason } from '../../core/store/report';

// What the editor tells the user about endpoints leaving a several-endpoint run. No `vscode` import:
// runService shows these strings (a non-modal warning with "Show Log"), the unit tier tests them.

/** The button of a drop warning: the log has every failed request of the endpoint. */
export const SHOW_LOG = 'Show Log';

/**
 * Turns one run's events into the warnings to show while it goes on: one per endpoint dropped (never
 * twice for the same endpoint, whatever the events), naming why and where its batches go. Make one per run.
 */
export class EndpointDropNotices {
  private readonly told = new Set<string>();

  /** The warning for `e`, or undefined when it is not a drop not told yet. */
  onEvent(e: RunEvent): string | undefined {
    if (e.type !== 'endpoint-dropped' || this.told.has(e.endpoint)) return undefined;
    this.told.add(e.endpoint);
    // The last one leaving ends the run: the end-of-run message says why.
    const to = e.others.length ? `Its batches go to ${e.others.join(', ')}.` : 'No endpoint is left; the run stops.';
    return `Batch Prompt: endpoint ${e.endpoint} left the run: ${endpointReason(e.reason)}. ${to}`;
  }
}
