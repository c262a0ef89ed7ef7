import { randomUUID } from 'node:crypto';
import { Entity, PrimaryKey, Property, OptionalProps } from '@mikro-orm/core';

@Entity({ tableName: 'users' })
export class User {
  [OptionalProps]?: 'email' | 'displayName' | 'createdAt';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  /** The token's `sub`: the identity provider owns the account, we keep a row for foreign keys. */
  @Property({ type: 'text', unique: true })
  externalId!: string;

  @Property({ type: 'text', nullable: true })
  email?: string | null;

  @Property({ type: 'text', nullable: true })
  displayName?: string | null;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();
}
