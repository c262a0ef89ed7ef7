import DataLoader from 'dataloader';
import type { Reader } from '../db/sql';
import { trustedEmailSql } from './user-email';
import { userColumns, userOf, type UserRecord } from './user-rows';

export function createUserLoaders(reader: Reader, requireEmailVerified: boolean) {
  const userById = new DataLoader<string, UserRecord | null>(async (ids) => {
    const rows = await reader.rows(`select ${userColumns('u')} from users u where u.id = any($1::uuid[])`, [ids]);
    const byId = new Map(rows.map((row) => [row.id as string, userOf(row, '')!]));
    return ids.map((id) => byId.get(id) ?? null);
  });
  return {
    userById,
    /**
     * The user a normalised address stands for (`trustedEmailSql`; the first to sign in with it, when several did), or
     * null: one statement for every address of the batch, through `users_email_index`.
     */
    userByEmail: new DataLoader<string, UserRecord | null>(async (emails) => {
      const rows = await reader.rows(
        `select distinct on (lower(u.email)) lower(u.email) as "address", ${userColumns('u')}
         from users u
         where lower(u.email) = any($1::text[]) and ${trustedEmailSql('u', requireEmailVerified)}
         order by lower(u.email), u.created_at, u.id`,
        [emails],
      );
      const byEmail = new Map(rows.map((row) => [row.address as string, userOf(row, '')!]));
      for (const user of byEmail.values()) userById.prime(user.id, user);
      return emails.map((email) => byEmail.get(email) ?? null);
    }),
    /** A user read along with something else (an owner with its page, an author with its version): not read again. */
    usersSeen: (user: UserRecord) => void userById.prime(user.id, user),
  };
}
