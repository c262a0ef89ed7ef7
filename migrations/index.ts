import type { Constructor } from '@mikro-orm/core';
import type { Migration } from '@mikro-orm/migrations';
import { Migration20261124120000_baseline } from './Migration20261124120000_baseline';
import { Migration20261124120100_templates } from './Migration20261124120100_templates';
import { Migration20261124120200_experiment_template_link } from './Migration20261124120200_experiment_template_link';
import { Migration20261124120300_experiment_indexes } from './Migration20261124120300_experiment_indexes';
import { Migration20261124120400_experiment_owner_template_index } from './Migration20261124120400_experiment_owner_template_index';
import { Migration20261130120000_template_category_order_index } from './Migration20261130120000_template_category_order_index';
import { Migration20261201120000_rate_limit_windows } from './Migration20261201120000_rate_limit_windows';
import { Migration20261201130000_template_configuration_index } from './Migration20261201130000_template_configuration_index';
import { Migration20261205120000_audit_events } from './Migration20261205120000_audit_events';
import { Migration20261206120000_experiment_run_times } from './Migration20261206120000_experiment_run_times';
import { Migration20261206120100_experiment_status_index } from './Migration20261206120100_experiment_status_index';
import { Migration20261206130000_template_usage_daily } from './Migration20261206130000_template_usage_daily';
import { Migration20261206130100_template_trending_index } from './Migration20261206130100_template_trending_index';
import { Migration20261206140000_configuration_schema_versions } from './Migration20261206140000_configuration_schema_versions';
import { Migration20261206150000_template_configuration_path_indexes } from './Migration20261206150000_template_configuration_path_indexes';
import { Migration20261207120000_teams } from './Migration20261207120000_teams';
import { Migration20261207130000_template_pending_shares } from './Migration20261207130000_template_pending_shares';
import { Migration20261207130100_user_email_index } from './Migration20261207130100_user_email_index';
import { Migration20261208120000_drop_template_wizard_paths_order_index } from './Migration20261208120000_drop_template_wizard_paths_order_index';

/** Listed explicitly (not globbed) so the same list runs from TypeScript sources, compiled output and tests. */
export const migrationsList: Array<{ name: string; class: Constructor<Migration> }> = [
  Migration20261124120000_baseline,
  Migration20261124120100_templates,
  Migration20261124120200_experiment_template_link,
  Migration20261124120300_experiment_indexes,
  Migration20261124120400_experiment_owner_template_index,
  Migration20261130120000_template_category_order_index,
  Migration20261201120000_rate_limit_windows,
  Migration20261201130000_template_configuration_index,
  Migration20261205120000_audit_events,
  Migration20261206120000_experiment_run_times,
  Migration20261206120100_experiment_status_index,
  Migration20261206130000_template_usage_daily,
  Migration20261206130100_template_trending_index,
  Migration20261206140000_configuration_schema_versions,
  Migration20261206150000_template_configuration_path_indexes,
  Migration20261207120000_teams,
  Migration20261207130000_template_pending_shares,
  Migration20261207130100_user_email_index,
  Migration20261208120000_drop_template_wizard_paths_order_index,
].map((migration) => ({ name: migration.name, class: migration }));

/** The schema as it stood before Tessera: rolling it back drops tables that hold data Tessera did not write. */
export const BASELINE_MIGRATION = Migration20261124120000_baseline.name;
