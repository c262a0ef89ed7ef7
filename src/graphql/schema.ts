import { printSchema, type GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { ExperimentResolver } from '../experiment/experiment.resolver';
import { TemplateExperimentsResolver } from '../experiment/template-experiments.resolver';
import { ConfigurationResolver } from '../template/configuration.resolver';
import { TemplateVersionResolver } from '../template/template-version.resolver';
import { TemplateResolver } from '../template/template.resolver';
import { UserResolver } from '../user/user.resolver';
import { authChecker } from './authorization';

export const resolvers = [
  UserResolver,
  TemplateResolver,
  TemplateVersionResolver,
  ConfigurationResolver,
  ExperimentResolver,
  TemplateExperimentsResolver,
] as const;

export async function buildAppSchema(): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers,
    authChecker,
    validate: false,
    emitSchemaFile: false,
  });
}

export async function printAppSchema(): Promise<string> {
  return `${printSchema(await buildAppSchema())}\n`;
}
