import { ConcurrentIndexDropMigration } from './concurrent-index-migration';

/**
 * The index on the update order holding the wizard's three values (Migration20261206150000) served a list of values
 * (`in`) in page order. Such a list is now read value by value from each path's own index (`takeIndexedValueList`,
 * src/template/template-list.ts), and no read's plan uses it any more, while every template written still updates it.
 */
export class Migration20261208120000_drop_template_wizard_paths_order_index extends ConcurrentIndexDropMigration {
  protected readonly indexes = [
    {
      name: 'experiment_templates_updated_at_wizard_paths_index',
      definition:
        `on experiment_templates (updated_at desc, id desc, (configuration #> '{model,type}'), ` +
        `(configuration #> '{model,framework}'), (configuration #> '{dataset,format}'))`,
    },
  ];
}
