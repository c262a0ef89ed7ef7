/**
 * Statuses the wizard sets: it creates drafts and queues them on completion. The pre-existing table stores free text,
 * so the API exposes the status as a string: older rows may hold values outside this list.
 */
export enum ExperimentStatus {
  DRAFT = 'draft',
  QUEUED = 'queued',
  RUNNING = 'running',
  COMPLETED = 'completed',
  FAILED = 'failed',
  CANCELLED = 'cancelled',
}
