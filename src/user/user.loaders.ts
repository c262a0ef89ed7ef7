import DataLoader from 'dataloader';
import type { Reader } from '../db/sql';
import { userColumns, userOf, type UserRecord } from './user-rows';

export function createUserLoaders(reader: Reader) {
  const userById = new DataLoader<string, UserRecord | null>(async (ids) => {
    const rows = await reader.rows(`select ${userColumns('u')} from users u where u.id = any($1::uuid[])`, [ids]);
    const byId = new Map(rows.map((row) => [row.id as string, userOf(row, '')!]));
    return ids.map((id) => byId.get(id) ?? null);
  });
  return {
    userById,
    /** A user read along with something else (an owner with its page, an author with its version): not read again. */
    usersSeen: (user: UserRecord) => void userById.prime(user.id, user),
  };
}
