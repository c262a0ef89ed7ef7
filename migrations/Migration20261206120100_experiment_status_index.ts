import { ConcurrentIndexMigration } from './concurrent-index-migration';

/**
 * The experiments services work through, across owners, in creation order: a scheduler's `experiments(filter: {
 * statuses: ["queued"] }, orderBy: { field: CREATED_AT, direction: ASC })` with a service token. Without it the page of
 * 20 scanned all 1,000,000 rows of a table like the bench's (31,337 buffers, 431 ms on a busy machine); with it, it
 * reads the 21 rows it returns (24 buffers, 0.1 ms), as a generic plan too. Partial: queued and running experiments are
 * a small share of the table (133,099 of 1,000,000 there: 6.3 MB, built in 1.6 s), and creating a draft or finishing a
 * run writes nothing to it. The listing adds this predicate to its statement when it asks for these statuses only
 * (experiment-list.ts): a generic plan cannot see the bound status, so cannot otherwise prove the index applies.
 */
export class Migration20261206120100_experiment_status_index extends ConcurrentIndexMigration {
  protected readonly indexes = [
    {
      name: 'ml_experiments_in_progress_index',
      definition: `on ml_experiments (status, created_at, id) where status in ('queued', 'running')`,
    },
  ];
}
