/** Statuses of the pre-existing experiment table; the wizard creates drafts and queues them on completion. */
export enum ExperimentStatus {
  Draft = 'draft',
  Queued = 'queued',
  Running = 'running',
  Completed = 'completed',
  Failed = 'failed',
  Cancelled = 'cancelled',
}
