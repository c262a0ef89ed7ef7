import type { User } from './user.entity';

/** A user as reads return it: the columns the API shows, as a plain object (mutations' entities fit it too). */
export type UserRecord = Pick<User, 'id' | 'email' | 'displayName' | 'createdAt'>;

/** The columns of a UserRecord over alias `alias`, each named with `prefix` (for rows that join users to another table). */
export function userColumns(alias: string, prefix = ''): string {
  return (
    `${alias}.id as "${prefix}id", ${alias}.email as "${prefix}email", ` +
    `${alias}.display_name as "${prefix}displayName", ${alias}.created_at as "${prefix}createdAt"`
  );
}

/** The user in a row selected with `userColumns(alias, prefix)`; null when an outer join found none. */
export function userOf(row: Record<string, unknown>, prefix: string): UserRecord | null {
  const id = row[`${prefix}id`] as string | null;
  if (id === null) return null;
  return {
    id,
    email: row[`${prefix}email`] as string | null,
    displayName: row[`${prefix}displayName`] as string | null,
    createdAt: row[`${prefix}createdAt`] as Date,
  };
}

/** SQL building a UserRecord as JSON over alias `alias`, for users aggregated into one column. */
export function userJson(alias: string): string {
  return `json_build_object('id', ${alias}.id, 'email', ${alias}.email, 'displayName', ${alias}.display_name, 'createdAt', ${alias}.created_at)`;
}

/** A user built by `userJson`: JSON carries the time as text. */
export function userOfJson(json: { id: string; email: string | null; displayName: string | null; createdAt: string }): UserRecord {
  return { id: json.id, email: json.email, displayName: json.displayName, createdAt: new Date(json.createdAt) };
}
