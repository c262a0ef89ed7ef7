import { ArgsType, Field, ID } from 'type-graphql';
import { TeamRole } from './team-role';

@ArgsType()
export class TeamIdArgs {
  @Field(() => ID)
  teamId!: string;
}

@ArgsType()
export class RenameTeamArgs extends TeamIdArgs {
  @Field(() => String, { description: '1 to 255 characters' })
  name!: string;
}

@ArgsType()
export class AddTeamMembersArgs extends TeamIdArgs {
  @Field(() => [ID], { nullable: true, description: 'Users by id: an unknown one is BAD_USER_INPUT at its path' })
  userIds?: string[] | null;

  @Field(() => [String], {
    nullable: true,
    description:
      'Users by the email they signed in with, in any case: one nobody has signed in with is NOT_FOUND at its path (`/emails/<i>`); at most 100 users with userIds',
  })
  emails?: string[] | null;

  @Field(() => TeamRole, { defaultValue: TeamRole.MEMBER, description: 'The role of the users who were not yet members' })
  role!: TeamRole;
}

@ArgsType()
export class RemoveTeamMembersArgs extends TeamIdArgs {
  @Field(() => [ID], { description: 'At most 100 users; ones who are not members change nothing' })
  userIds!: string[];
}

@ArgsType()
export class SetTeamMemberRoleArgs extends TeamIdArgs {
  @Field(() => ID)
  userId!: string;

  @Field(() => TeamRole)
  role!: TeamRole;
}

@ArgsType()
export class SetTeamExternalIdArgs extends TeamIdArgs {
  @Field(() => String, { nullable: true, description: "The identity provider's group, exactly as the token's claim names it; null: none" })
  externalId!: string | null;
}
