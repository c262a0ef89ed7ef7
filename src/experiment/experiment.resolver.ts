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
import { ExperimentStatusTarget } from './experiment-status';
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
  ExperimentOrder,
  SaveWizardStepInput,
  UpdateExperimentInput,
} from './experiment.inputs';

export const ExperimentConnection = ConnectionType(Experiment, 'Experiment');

@Resolver(() => Experiment)
export class ExperimentResolver {
  @Query(() => Experiment, {
    nullable: true,
    description: "One of the caller's experiments (any, for a service token or staff); null otherwise, as for an unknown id",
  })
  async experiment(
    @Arg('id', () => ID) id: string,
    @Ctx() { loaders }: Context,
    @Info() info: GraphQLResolveInfo,
  ): Promise<ExperimentRecord | null> {
    return loaders.visibleExperimentById.load({ id, documents: selectedAmong(info, [], EXPERIMENT_DOCUMENT_FIELDS) });
  }

  @Authorized()
  @Query(() => ExperimentConnection, {
    description:
      "The caller's experiments (every owner's for a service token or staff, e.g. a scheduler's queue: " +
      '`filter: { statuses: ["queued"] }, orderBy: { field: CREATED_AT, direction: ASC }`), newest first unless `orderBy` says otherwise',
  })
  async experiments(
    @Arg('filter', () => ExperimentFilterInput, { nullable: true }) filter: ExperimentFilterInput | null,
    @Arg('orderBy', () => ExperimentOrder, { nullable: true, description: 'Default: most recently created first' })
    orderBy: ExperimentOrder | null,
    @Args() { first, after }: PageArgs,
    @CurrentActor() actor: Actor,
    @Ctx() { reader }: Context,
    @Info() info: GraphQLResolveInfo,
  ): Promise<Connection<ExperimentRecord>> {
    const page = await listExperiments(
      reader,
      actor,
      { filter, orderBy },
      { first, after },
      { withTotalCount: selectsField(info, 'totalCount'), documents: selectedAmong(info, ['edges', 'node'], EXPERIMENT_DOCUMENT_FIELDS) },
    );
    return connectionOf(page);
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

  @Authorized()
  @Mutation(() => Experiment, {
    description: 'Renames or describes anew an experiment of the caller: a draft or an ended one (queued or running: CONFLICT)',
  })
  async updateExperiment(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdateExperimentInput) input: UpdateExperimentInput,
    @CurrentActor() actor: Actor,
    @Ctx() { services }: Context,
  ): Promise<Experiment> {
    return services.experiments.updateDetails(actor, id, input);
  }

  @Authorized()
  @Mutation(() => ID, {
    description:
      "Deletes an experiment of the caller: a draft or an ended one (queued or running: CONFLICT). Its template's usage count " +
      'does not change: it counts the experiments created from the template. Its audit events stay',
  })
  async deleteExperiment(@Arg('id', () => ID) id: string, @CurrentActor() actor: Actor, @Ctx() { services }: Context): Promise<string> {
    return services.experiments.delete(actor, id);
  }

  @Authorized()
  @Mutation(() => Experiment, {
    description:
      'Moves an experiment along its lifecycle (`draft -> queued -> running -> completed | failed`, `queued | running -> cancelled`): ' +
      'a service token starts, completes and fails runs (recording `startedAt`, `finishedAt`), the owner or staff cancel. ' +
      'A move the current status does not allow is CONFLICT with `currentStatus`; an older row with another status never moves',
  })
  async changeExperimentStatus(
    @Arg('id', () => ID) id: string,
    @Arg('to', () => ExperimentStatusTarget) to: ExperimentStatusTarget,
    @CurrentActor() actor: Actor,
    @Ctx() { services }: Context,
  ): Promise<Experiment> {
    return services.experiments.changeStatus(actor, id, to);
  }
}

/** The template an experiment was made from, while the caller may see it. */
function visibleTemplateOf(experiment: ExperimentRecord, loaders: Loaders, withConfiguration = false): Promise<TemplateRecord | null> {
  const id = experiment.template?.id;
  return id ? loaders.visibleTemplateById.load({ id, withConfiguration }) : Promise.resolve(null);
}
