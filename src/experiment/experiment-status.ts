/**
 * The lifecycle's statuses: the wizard creates drafts and queues them on completion, services run them. The
 * pre-existing table stores free text, so the API exposes the status as a string: older rows may hold values outside
 * this list, which stay readable and are never moved.
 */
export enum ExperimentStatus {
  DRAFT = 'draft',
  QUEUED = 'queued',
  RUNNING = 'running',
  COMPLETED = 'completed',
  FAILED = 'failed',
  CANCELLED = 'cancelled',
}

/** The statuses `changeExperimentStatus` moves to: a draft is queued by completing its wizard, which validates it. */
export enum ExperimentStatusTarget {
  RUNNING = ExperimentStatus.RUNNING,
  COMPLETED = ExperimentStatus.COMPLETED,
  FAILED = ExperimentStatus.FAILED,
  CANCELLED = ExperimentStatus.CANCELLED,
}

/** Every legal move, by the status moved from: `draft -> queued -> running -> completed | failed`, `queued | running -> cancelled`. */
const MOVES: Record<ExperimentStatus, readonly ExperimentStatus[]> = {
  [ExperimentStatus.DRAFT]: [ExperimentStatus.QUEUED],
  [ExperimentStatus.QUEUED]: [ExperimentStatus.RUNNING, ExperimentStatus.CANCELLED],
  [ExperimentStatus.RUNNING]: [ExperimentStatus.COMPLETED, ExperimentStatus.FAILED, ExperimentStatus.CANCELLED],
  [ExperimentStatus.COMPLETED]: [],
  [ExperimentStatus.FAILED]: [],
  [ExperimentStatus.CANCELLED]: [],
};

function isLifecycleStatus(status: string): status is ExperimentStatus {
  return Object.hasOwn(MOVES, status);
}

/** Whether the lifecycle moves `from` to `to`; nothing moves from a status outside it. */
export function canMove(from: string, to: ExperimentStatus): boolean {
  return isLifecycleStatus(from) && MOVES[from].includes(to);
}

/**
 * Queued or running: the experiment is a service's until it ends or is cancelled, so its owner neither renames nor
 * deletes it meanwhile. Every other status (a draft, an ended one, an older row's own) leaves it to its owner.
 */
export function isInProgress(status: string): boolean {
  return IN_PROGRESS.includes(status);
}

const IN_PROGRESS: readonly string[] = [ExperimentStatus.QUEUED, ExperimentStatus.RUNNING];
