/** Ids contributed in package.json; a unit test checks that the two lists match. */
export const Commands = {
  runOnFiles: 'batchPrompt.runOnFiles',
  runOnSelection: 'batchPrompt.runOnSelection',
  runOnFile: 'batchPrompt.runOnFile',
  runLast: 'batchPrompt.runLast',
  cancelRun: 'batchPrompt.cancelRun',
  estimateRun: 'batchPrompt.estimateRun',
  showLog: 'batchPrompt.showLog',
  setApiKey: 'batchPrompt.setApiKey',
  clearApiKey: 'batchPrompt.clearApiKey',
  openResults: 'batchPrompt.openResults',
  retry: 'batchPrompt.retry',
  retryAll: 'batchPrompt.retryAll',
  clearFailures: 'batchPrompt.clearFailures',
  revealChunk: 'batchPrompt.revealChunk',
  showRunActions: 'batchPrompt.showRunActions',
  showVersion: 'batchPrompt.showVersion',
  resumeRun: 'batchPrompt.resumeRun',
  clearCache: 'batchPrompt.clearCache',
  submitBatchJob: 'batchPrompt.submitBatchJob',
  cancelBatchJob: 'batchPrompt.cancelBatchJob',
  showBatchJobActions: 'batchPrompt.showBatchJobActions',
  clearFindings: 'batchPrompt.clearFindings',
  reviewEdits: 'batchPrompt.reviewEdits',
  openEditDiff: 'batchPrompt.openEditDiff',
  combineResults: 'batchPrompt.combineResults',
  runsRefresh: 'batchPrompt.runs.refresh',
  runsOpenReport: 'batchPrompt.runs.openReport',
  runsOpenOutputs: 'batchPrompt.runs.openOutputs',
  runsResume: 'batchPrompt.runs.resume',
  runsRetryFailed: 'batchPrompt.runs.retryFailed',
  runsReviewEdits: 'batchPrompt.runs.reviewEdits',
  runsDelete: 'batchPrompt.runs.delete',
  runsActions: 'batchPrompt.runs.actions',
  runsCombine: 'batchPrompt.runs.combine',
  addModel: 'batchPrompt.addModel',
} as const;

export type CommandId = (typeof Commands)[keyof typeof Commands];

export const Views = {
  failures: 'batchPrompt.failures',
  runs: 'batchPrompt.runs',
} as const;

export const ContextKeys = {
  running: 'batchPrompt.running',
} as const;
