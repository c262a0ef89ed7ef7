import { randomUUID } from 'node:crypto';
import { Entity, PrimaryKey, Property } from '@mikro-orm/core';

@Entity({ tableName: 'users' })
export class User {
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
