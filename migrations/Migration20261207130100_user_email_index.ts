import { ConcurrentIndexMigration } from './concurrent-index-migration';

/**
 * Who an address names (sharing by email, `userByEmail`): users by `lower(email)`, which also finds rows written before
 * Tessera lower-cased addresses. `users` is a live table: built CONCURRENTLY.
 */
export class Migration20261207130100_user_email_index extends ConcurrentIndexMigration {
  protected readonly indexes = [{ name: 'users_email_index', definition: 'on users (lower(email))' }];
}
