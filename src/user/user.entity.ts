import { randomUUID } from 'node:crypto';
import { Field, ID, ObjectType } from 'type-graphql';
import { Entity, PrimaryKey, Property, OptionalProps } from '@mikro-orm/core';

@Entity({ tableName: 'users' })
@ObjectType({ description: 'A person known from an identity token', simpleResolvers: true })
export class User {
  [OptionalProps]?: 'email' | 'emailVerified' | 'displayName' | 'createdAt';

  @Field(() => ID)
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  /** The token's `sub`: the identity provider owns the account, we keep a row for foreign keys. */
  @Property({ type: 'text', unique: true })
  externalId!: string;

  /** Private: resolved by `UserResolver.email`, for the user and staff only. */
  @Property({ type: 'text', nullable: true })
  email?: string | null;

  /**
   * What the last token that carried an email said of it (`email_verified`); null when it said nothing. Decides whether
   * the address may stand for the user (src/user/user-email.ts). Not in the API.
   */
  @Property({ type: 'boolean', nullable: true })
  emailVerified?: boolean | null;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  displayName?: string | null;

  @Field(() => Date)
  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();
}
