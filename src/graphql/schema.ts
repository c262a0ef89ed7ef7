import { printSchema, type GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { ExperimentResolver } from '../experiment/experiment.resolver';
import { TemplateExperimentsResolver } from '../experiment/template-experiments.resolver';
import { ConfigurationResolver } from '../template/configuration.resolver';
import { TemplateVersionResolver } from '../template/template-version.resolver';
import { TemplateResolver } from '../template/template.resolver';
import { TeamResolver } from '../team/team.resolver';
import { TemplateTeamsResolver } from '../team/template-teams.resolver';
import { UserResolver } from '../user/user.resolver';
// Last: type-graphql lists types in the order their modules load, so the audit trail's follow the domains' in schema.graphql.
import { AuditEventResolver } from '../audit/audit.resolver';
import { TemplateAuditResolver } from '../audit/template-audit.resolver';
import { authChecker } from './authorization';

export const resolvers = [
  UserResolver,
  TemplateResolver,
  TemplateVersionResolver,
  ConfigurationResolver,
  ExperimentResolver,
  TemplateExperimentsResolver,
  TeamResolver,
  TemplateTeamsResolver,
  AuditEventResolver,
  TemplateAuditResolver,
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
