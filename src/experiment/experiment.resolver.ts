import { Arg, Args, Authorized, Ctx, FieldResolver, Float, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Actor } from '../auth/actor';
import { CurrentActor } from '../graphql/authorization';
import { connectionOf, ConnectionType, PageArgs, type Connection } from '../graphql/connection';
import type { Context } from '../graphql/context';
import { TemplateVersion } from '../template/template-version.entity';
import { ExperimentTemplate } from '../template/template.entity';
import { User } from '../user/user.entity';
import { listExperiments } from './experiment-list';
import { Experiment } from './experiment.entity';
import {
  AnalysisMetadataInput,
  CreateExperimentFromTemplateInput,
  CreateExperimentInput,
  ExperimentFilterInput,
  SaveWizardStepInput,
} from './experiment.inputs';

export const ExperimentConnection = ConnectionType(Experiment, 'Experiment');

@Resolver(() => Experiment)
export class ExperimentResolver {
  @Query(() => Experiment, { nullable: true, description: "One of the caller's experiments (any, for a service token); null otherwise" })
  async experiment(@Arg('id', () => ID) id: string, @Ctx() { loaders }: Context): Promise<Experiment | null> {
    return loaders.visibleExperimentById.load(id);
  }

  @Authorized()
  @Query(() => ExperimentConnection, { description: "The caller's experiments, newest first" })
  async experiments(
    @Arg('filter', () => ExperimentFilterInput, { nullable: true }) filter: ExperimentFilterInput | null,
    @Args() { first, after }: PageArgs,
    @CurrentActor() actor: Actor,
    @Ctx() { em }: Context,
  ): Promise<Connection<Experiment>> {
    return connectionOf(await listExperiments(em, actor, filter ?? {}, { first, after }));
  }

  @FieldResolver(() => ExperimentTemplate, {
    nullable: true,
    description: 'The template it was made from; null once that template is deleted or no longer visible to the caller',
  })
  async template(@Root() experiment: Experiment, @Ctx() { loaders }: Context): Promise<ExperimentTemplate | null> {
    const templateId = experiment.template?.id;
    return templateId ? loaders.visibleTemplateById.load(templateId) : null;
  }

  @FieldResolver(() => User)
  async owner(@Root() experiment: Experiment, @Ctx() { loaders }: Context): Promise<User> {
    const owner = await loaders.userById.load(experiment.owner.id);
    if (!owner) throw new Error(`owner ${experiment.owner.id} of experiment ${experiment.id} is missing`);
    return owner;
  }

  @FieldResolver(() => TemplateVersion, {
    nullable: true,
    description: 'The template as it was at `templateVersion`, while the template is visible to the caller',
  })
  async templateVersionSnapshot(@Root() experiment: Experiment, @Ctx() context: Context): Promise<TemplateVersion | null> {
    const template = await this.template(experiment, context);
    if (!template || experiment.templateVersion == null) return null;
    return context.loaders.templateVersion.load({ templateId: template.id, version: experiment.templateVersion });
  }

  @FieldResolver(() => Boolean, { description: 'Whether its (visible) template has moved past `templateVersion`' })
  async hasNewerTemplateVersion(@Root() experiment: Experiment, @Ctx() context: Context): Promise<boolean> {
    const template = await this.template(experiment, context);
    return template !== null && experiment.templateVersion != null && template.version > experiment.templateVersion;
  }

  @Authorized()
  @Mutation(() => Experiment, { description: "Starts an experiment from a visible, active template; counts the template's use" })
  async createExperimentFromTemplate(
    @Arg('input', () => CreateExperimentFromTemplateInput) input: CreateExperimentFromTemplateInput,
    @CurrentActor() actor: Actor,
    @Ctx() { services }: Context,
  ): Promise<Experiment> {
    return services.experiments.createFromTemplate(actor, input);
  }

  @Authorized()
  @Mutation(() => Experiment, { description: 'Starts a draft experiment without a template' })
  async createExperiment(
    @Arg('input', () => CreateExperimentInput) input: CreateExperimentInput,
    @CurrentActor() actor: Actor,
    @Ctx() { services }: Context,
  ): Promise<Experiment> {
    return services.experiments.createFromScratch(actor, input);
  }

  @Authorized()
  @Mutation(() => Experiment, { description: "Saves the wizard's progress and state, and optionally one configuration section" })
  async saveWizardStep(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => SaveWizardStepInput) input: SaveWizardStepInput,
    @CurrentActor() actor: Actor,
    @Ctx() { services }: Context,
  ): Promise<Experiment> {
    return services.experiments.saveWizardStep(actor, id, input);
  }

  @Authorized()
  @Mutation(() => Experiment, { description: 'Finishes the wizard: the whole configuration must be valid; a draft is queued' })
  async completeWizard(@Arg('id', () => ID) id: string, @CurrentActor() actor: Actor, @Ctx() { services }: Context): Promise<Experiment> {
    return services.experiments.completeWizard(actor, id);
  }

  @Authorized()
  @Mutation(() => Experiment, { description: 'Writes analysis results, as the owner or with a service token' })
  async writeAnalysisMetadata(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => AnalysisMetadataInput) input: AnalysisMetadataInput,
    @CurrentActor() actor: Actor,
    @Ctx() { services }: Context,
  ): Promise<Experiment> {
    return services.experiments.writeAnalysisMetadata(actor, id, input);
  }

  @Authorized()
  @Mutation(() => Experiment, { description: 'Records how long training took, as the owner or with a service token' })
  async recordTrainingTime(
    @Arg('id', () => ID) id: string,
    @Arg('actualTrainingSeconds', () => Float) actualTrainingSeconds: number,
    @CurrentActor() actor: Actor,
    @Ctx() { services }: Context,
  ): Promise<Experiment> {
    return services.experiments.recordTrainingTime(actor, id, actualTrainingSeconds);
  }
}
