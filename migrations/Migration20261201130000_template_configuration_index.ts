import { ConcurrentIndexMigration } from './concurrent-index-migration';

/**
 * Filters on what a configuration holds (`templates(filter: { configuration })`) are containments (`@>`), which a GIN
 * index with `jsonb_path_ops` serves: smaller than the default operator class, and containment is all it is asked.
 */
export class Migration20261201130000_template_configuration_index extends ConcurrentIndexMigration {
  protected readonly indexes = [
    { name: 'experiment_templates_configuration_index', definition: 'on experiment_templates using gin (configuration jsonb_path_ops)' },
  ];
}
