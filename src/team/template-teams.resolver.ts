import { Args, Authorized, Ctx, FieldResolver, Mutation, Resolver, Root } from 'type-graphql';
import { isStaff, type Actor } from '../auth/actor';
import { CurrentActor } from '../graphql/authorization';
import type { Context } from '../graphql/context';
import type { TemplateRecord } from '../template/template-rows';
import { ExperimentTemplate } from '../template/template.entity';
import { ShareTemplateWithTeamsArgs } from '../template/template.inputs';
import { Team } from './team.entity';
import type { TeamRecord } from './team-rows';

/** Templates shared with teams, kept with teams: type-graphql merges the field into the Template type. */
@Resolver(() => ExperimentTemplate)
export class TemplateTeamsResolver {
  // The rule of `sharedWith`: which teams have a template is its owner's business, and staff's, who manage its shares.
  @FieldResolver(() => [Team], {
    description: 'The teams it is shared with, in sharing order; empty unless the caller owns it or is staff',
  })
  async sharedWithTeams(@Root() template: TemplateRecord, @Ctx() context: Context): Promise<TeamRecord[]> {
    const caller = await context.actor();
    if (!caller || (template.createdBy.id !== caller.userId && !isStaff(caller))) return [];
    return context.loaders.sharedTeamsByTemplateId.load(template.id);
  }

  @Authorized()
  @Mutation(() => ExperimentTemplate, {
    description:
      'Shares it with teams (owner or staff): an owner with teams they are a member of, staff with any team; their members see it for as long as they are members; sharing twice is harmless',
  })
  async shareTemplateWithTeams(
    @Args() { id, teamIds }: ShareTemplateWithTeamsArgs,
    @CurrentActor() actor: Actor,
    @Ctx() { services }: Context,
  ) {
    return services.templates.shareWithTeams(actor, id, teamIds);
  }

  @Authorized()
  @Mutation(() => ExperimentTemplate, { description: 'Stops sharing it with teams (owner or staff)' })
  async unshareTemplateFromTeams(
    @Args() { id, teamIds }: ShareTemplateWithTeamsArgs,
    @CurrentActor() actor: Actor,
    @Ctx() { services }: Context,
  ) {
    return services.templates.unshareFromTeams(actor, id, teamIds);
  }
}
