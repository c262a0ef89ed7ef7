import { randomUUID } from 'node:crypto';
import { Field, ID, ObjectType } from 'type-graphql';
import { Entity, ManyToOne, PrimaryKey, Property, OptionalProps, type Rel } from '@mikro-orm/core';
import { User } from '../user/user.entity';
import { TeamRole } from './team-role';

@Entity({ tableName: 'teams' })
@ObjectType('Team', { description: 'People who share templates as one; seen by its members and staff only', simpleResolvers: true })
export class Team {
  [OptionalProps]?: 'externalId' | 'createdBy' | 'createdAt' | 'updatedAt';

  @Field(() => ID)
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Field(() => String, { description: '1 to 255 characters' })
  @Property({ type: 'text' })
  name!: string;

  @Field(() => String, {
    nullable: true,
    description: "The identity provider's group this team follows (TEAMS_CLAIM); null when managed in Tessera only. Set by staff",
  })
  @Property({ type: 'text', nullable: true, unique: true })
  externalId: string | null = null;

  /** Null once the creator is deleted: the team outlives them. */
  @ManyToOne(() => User, { fieldName: 'created_by', nullable: true, deleteRule: 'set null' })
  createdBy: Rel<User> | null = null;

  @Field(() => Date)
  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Field(() => Date)
  @Property({ type: 'timestamptz' })
  updatedAt: Date = new Date();
}

/** One member of a team with their role; written with SQL by TeamService, read as rows. */
@Entity({ tableName: 'team_members' })
@ObjectType('TeamMember', { description: 'A member of a team and their role', simpleResolvers: true })
export class TeamMember {
  [OptionalProps]?: 'role' | 'addedAt';

  @ManyToOne(() => Team, { primary: true, fieldName: 'team_id', deleteRule: 'cascade' })
  team!: Rel<Team>;

  @Field(() => User)
  @ManyToOne(() => User, { primary: true, fieldName: 'user_id', deleteRule: 'cascade' })
  user!: Rel<User>;

  @Field(() => TeamRole)
  @Property({ type: 'text' })
  role: TeamRole = TeamRole.MEMBER;

  @Field(() => Date)
  @Property({ type: 'timestamptz' })
  addedAt: Date = new Date();
}
