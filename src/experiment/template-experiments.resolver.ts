import type { GraphQLResolveInfo } from 'graphql';
import { Args, Ctx, FieldResolver, Info, Resolver, Root } from 'type-graphql';
import { checkPageSize } from '../db/keyset';
import { connectionOf, PageArgs, type Connection } from '../graphql/connection';
import type { Context } from '../graphql/context';
import { selectedAmong } from '../graphql/selection';
import type { TemplateRecord } from '../template/template-rows';
import { ExperimentTemplate } from '../template/template.entity';
import { checkExperimentCursor } from './experiment-list';
import { EXPERIMENT_DOCUMENT_FIELDS, type ExperimentRecord } from './experiment-rows';
import { ExperimentConnection } from './experiment.resolver';

/** `Template.experiments`, kept with experiments: type-graphql merges it into the Template type. */
@Resolver(() => ExperimentTemplate)
export class TemplateExperimentsResolver {
  @FieldResolver(() => ExperimentConnection, {
    description: "The caller's experiments made from this template, newest first (empty when anonymous)",
  })
  async experiments(
    @Root() template: TemplateRecord,
    @Args() { first, after }: PageArgs,
    @Ctx() { loaders }: Context,
    @Info() info: GraphQLResolveInfo,
  ): Promise<Connection<ExperimentRecord>> {
    // Checked here so one bad argument fails its own field, not the whole batch.
    checkPageSize(first);
    checkExperimentCursor(after);
    const documents = selectedAmong(info, ['edges', 'node'], EXPERIMENT_DOCUMENT_FIELDS);
    return connectionOf(await loaders.experimentsByTemplate.load({ templateId: template.id, first, after: after ?? null, documents }));
  }
}
