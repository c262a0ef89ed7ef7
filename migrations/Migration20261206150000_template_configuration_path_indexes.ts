import { ConcurrentIndexMigration } from './concurrent-index-migration';

/**
 * The wizard's most common filters on a configuration: model type, framework, dataset format
 * (`WIZARD_CONFIGURATION_PATHS` in src/template/template-list.ts, which writes the very expressions indexed here).
 * The GIN index serves a containment, but PostgreSQL has no statistics of what a document holds and estimates any
 * containment at 0.1% of the rows: a common value's page read ~20,000 matches and sorted them (0.1 to 0.2 s in
 * `npm run bench`). An index on each path's value, in the page's default order, reads one value's page in order and
 * stops; one on the default order holding all three values finds a page of several common values (`in`) without
 * reading the rows it skips. Expression indexes, built CONCURRENTLY, rather than generated columns, which would
 * rewrite the table; ANALYZE then gives the planner the values' frequencies.
 */
export class Migration20261206150000_template_configuration_path_indexes extends ConcurrentIndexMigration {
  protected readonly indexes = [
    {
      name: 'experiment_templates_model_type_index',
      definition: `on experiment_templates ((configuration #> '{model,type}'), updated_at desc, id desc)`,
    },
    {
      name: 'experiment_templates_model_framework_index',
      definition: `on experiment_templates ((configuration #> '{model,framework}'), updated_at desc, id desc)`,
    },
    {
      name: 'experiment_templates_dataset_format_index',
      definition: `on experiment_templates ((configuration #> '{dataset,format}'), updated_at desc, id desc)`,
    },
    {
      name: 'experiment_templates_updated_at_wizard_paths_index',
      definition:
        `on experiment_templates (updated_at desc, id desc, (configuration #> '{model,type}'), ` +
        `(configuration #> '{model,framework}'), (configuration #> '{dataset,format}'))`,
    },
  ];
  protected override readonly analyzedTables = ['experiment_templates'];
}
