import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { isStaff, Role, type Actor } from '../auth/actor';
import { CurrentActor } from '../graphql/authorization';
import type { Context } from '../graphql/context';
import {
  AddTeamMembersArgs,
  RemoveTeamMembersArgs,
  RenameTeamArgs,
  SetTeamExternalIdArgs,
  SetTeamMemberRoleArgs,
  TeamIdArgs,
} from './team.inputs';
import { Team, TeamMember } from './team.entity';
import { teamsOfMember } from './team.loaders';
import type { TeamMemberRecord, TeamRecord } from './team-rows';

@Resolver(() => Team)
export class TeamResolver {
  @Query(() => Team, {
    nullable: true,
    description: 'A team the caller is a member of (staff: any team); null otherwise, as for an unknown id',
  })
  async team(@Arg('id', () => ID) id: string, @Ctx() { loaders }: Context): Promise<TeamRecord | null> {
    return loaders.visibleTeamById.load(id);
  }

  @Authorized()
  @Query(() => [Team], { description: 'The teams the caller is a member of, by name' })
  async myTeams(@CurrentActor() actor: Actor, @Ctx() { reader }: Context): Promise<TeamRecord[]> {
    return teamsOfMember(reader, actor.userId);
  }

  // A team reaches callers who are no longer members too (a template's owner reads the teams it is shared with):
  // who is in it stays its members' and staff's business.
  @FieldResolver(() => [TeamMember], {
    description: 'Its members, maintainers first, then by when they joined; empty unless the caller is a member or staff',
  })
  async members(@Root() team: TeamRecord, @Ctx() context: Context): Promise<TeamMemberRecord[]> {
    const [caller, members] = await Promise.all([context.actor(), context.loaders.membersByTeamId.load(team.id)]);
    if (!caller) return [];
    return isStaff(caller) || members.some((member) => member.user.id === caller.userId) ? members : [];
  }

  @Authorized()
  @Mutation(() => Team, { description: 'A new team, with the caller as its first maintainer' })
  async createTeam(@Arg('name', () => String) name: string, @CurrentActor() actor: Actor, @Ctx() { services }: Context) {
    return services.teams.create(actor, name);
  }

  @Authorized()
  @Mutation(() => Team, { description: 'Renames it (maintainers and staff)' })
  async renameTeam(@Args() { teamId, name }: RenameTeamArgs, @CurrentActor() actor: Actor, @Ctx() { services }: Context) {
    return services.teams.rename(actor, teamId, name);
  }

  @Authorized()
  @Mutation(() => Team, { description: 'Adds users by id or email (maintainers and staff); members already in keep their role' })
  async addTeamMembers(
    @Args() { teamId, userIds, emails, role }: AddTeamMembersArgs,
    @CurrentActor() actor: Actor,
    @Ctx() { services }: Context,
  ) {
    return services.teams.addMembers(actor, teamId, { userIds, emails, role });
  }

  @Authorized()
  @Mutation(() => Team, { description: 'Removes members (maintainers and staff); never the last maintainer (CONFLICT)' })
  async removeTeamMembers(@Args() { teamId, userIds }: RemoveTeamMembersArgs, @CurrentActor() actor: Actor, @Ctx() { services }: Context) {
    return services.teams.removeMembers(actor, teamId, userIds);
  }

  @Authorized()
  @Mutation(() => Team, { description: "Changes a member's role (maintainers and staff); never demotes the last maintainer (CONFLICT)" })
  async setTeamMemberRole(
    @Args() { teamId, userId, role }: SetTeamMemberRoleArgs,
    @CurrentActor() actor: Actor,
    @Ctx() { services }: Context,
  ) {
    return services.teams.setMemberRole(actor, teamId, userId, role);
  }

  @Authorized()
  @Mutation(() => ID, {
    description: "The caller leaves the team (its last maintainer cannot: CONFLICT) and loses its templates. Returns the team's id",
  })
  async leaveTeam(@Args() { teamId }: TeamIdArgs, @CurrentActor() actor: Actor, @Ctx() { services }: Context): Promise<string> {
    return services.teams.leave(actor, teamId);
  }

  @Authorized()
  @Mutation(() => ID, { description: 'Deletes it with its memberships and template shares (maintainers and staff). Returns its id' })
  async deleteTeam(@Args() { teamId }: TeamIdArgs, @CurrentActor() actor: Actor, @Ctx() { services }: Context): Promise<string> {
    return services.teams.delete(actor, teamId);
  }

  @Authorized(Role.STAFF)
  @Mutation(() => Team, {
    description: "Staff only: the identity provider's group the team follows (TEAMS_CLAIM), or null to manage it in Tessera only",
  })
  async setTeamExternalId(
    @Args() { teamId, externalId }: SetTeamExternalIdArgs,
    @CurrentActor() actor: Actor,
    @Ctx() { services }: Context,
  ) {
    return services.teams.setExternalId(actor, teamId, externalId);
  }
}
