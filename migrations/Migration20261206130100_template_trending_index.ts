import { ConcurrentIndexMigration } from './concurrent-index-migration';

/** `templates(orderBy: { field: TRENDING })` walks this index in ranking order, as USAGE_COUNT walks its own. */
export class Migration20261206130100_template_trending_index extends ConcurrentIndexMigration {
  protected readonly indexes = [
    { name: 'experiment_templates_trending_count_index', definition: 'on experiment_templates (trending_count desc, id desc)' },
  ];
}
