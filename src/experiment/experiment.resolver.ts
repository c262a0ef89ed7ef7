import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Args, Authorized, Ctx, FieldResolver, Float, ID, Info, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Actor } from '../auth/actor';
import { CurrentActor } from '../graphql/authorization';
import { connectionOf, ConnectionType, PageArgs, type Connection } from '../graphql/connection';
import type { Context } from '../graphql/context';
import type { Loaders } from '../graphql/loaders';
import { TemplateVersion } from '../template/template-version.entity';
import { ExperimentTemplate } from '../template/template.entity';
import { selectedAmong, selectsField } from '../graphql/selection';
import type { TemplateRecord, VersionContentRecord } from '../template/template-rows';
import { User } from '../user/user.entity';
import type { UserRecord } from '../user/user-rows';
import { listExperiments } from './experiment-list';
import { Experiment } from './experiment.entity';
import { EXPERIMENT_DOCUMENT_FIELDS, type ExperimentRecord } from './experiment-rows';
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
  async experiment(
    @Arg('id', () => ID) id: string,
    @Ctx() { loaders }: Context,
    @Info() info: GraphQLResolveInfo,
  ): Promise<ExperimentRecord | null> {
    return loaders.visibleExperimentById.load({ id, documents: selectedAmong(info, [], EXPERIMENT_DOCUMENT_FIELDS) });
  }

  @Authorized()
  @Query(() => ExperimentConnection, { description: "The caller's experiments, newest first" })
  async experiments(
    @Arg('filter', () => ExperimentFilterInput, { nullable: true }) filter: ExperimentFilterInput | null,
    @Args() { first, after }: PageArgs,
    @CurrentActor() actor: Actor,
    @Ctx() { reader }: Context,
    @Info() info: GraphQLResolveInfo,
  ): Promise<Connection<ExperimentRecord>> {
    const documents = selectedAmong(info, ['edges', 'node'], EXPERIMENT_DOCUMENT_FIELDS);
    return connectionOf(await listExperiments(reader, actor, filter ?? {}, { first, after }, documents));
  }

  @FieldResolver(() => ExperimentTemplate, {
    nullable: true,
    description: 'The template it was made from; null once that template is deleted or no longer visible to the caller',
  })
  async template(
    @Root() experiment: ExperimentRecord,
    @Ctx() { loaders }: Context,
    @Info() info: GraphQLResolveInfo,
  ): Promise<TemplateRecord | null> {
    return visibleTemplateOf(experiment, loaders, selectsField(info, 'configuration'));
  }

  @FieldResolver(() => User)
  async owner(@Root() experiment: ExperimentRecord, @Ctx() { loaders }: Context): Promise<UserRecord> {
    const owner = await loaders.userById.load(experiment.owner.id);
    if (!owner) throw new Error(`owner ${experiment.owner.id} of experiment ${experiment.id} is missing`);
    return owner;
  }

  @FieldResolver(() => TemplateVersion, {
    nullable: true,
    description: 'The template as it was at `templateVersion`, while the template is visible to the caller',
  })
  async templateVersionSnapshot(@Root() experiment: ExperimentRecord, @Ctx() { loaders }: Context): Promise<VersionContentRecord | null> {
    const template = await visibleTemplateOf(experiment, loaders);
    if (!template || experiment.templateVersion == null) return null;
    return loaders.templateVersion.load({ templateId: template.id, version: experiment.templateVersion });
  }

  @FieldResolver(() => Boolean, { description: 'Whether its (visible) template has moved past `templateVersion`' })
  async hasNewerTemplateVersion(@Root() experiment: ExperimentRecord, @Ctx() { loaders }: Context): Promise<boolean> {
    const template = await visibleTemplateOf(experiment, loaders);
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

/** The template an experiment was made from, while the caller may see it. */
function visibleTemplateOf(experiment: ExperimentRecord, loaders: Loaders, withConfiguration = false): Promise<TemplateRecord | null> {
  const id = experiment.template?.id;
  return id ? loaders.visibleTemplateById.load({ id, withConfiguration }) : Promise.resolve(null);
}
