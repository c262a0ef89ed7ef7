import 'reflect-metadata';
import { isObjectType, type GraphQLSchema } from 'graphql';
import { buildAppSchema } from '../../src/graphql/schema';

/**
 * Plain fields read straight from their object, with graphql-js' default resolver: a wrapper per field (type-graphql
 * adds one unless told the field is simple) costs CPU on every field of every row of every page.
 */
describe('field resolvers', () => {
  let schema: GraphQLSchema;

  beforeAll(async () => {
    schema = await buildAppSchema();
  });

  it('exist only where a field computes or loads something', () => {
    const resolved: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (!isObjectType(type) || type.name.startsWith('__') || type.name === 'Query' || type.name === 'Mutation') continue;
      for (const field of Object.values(type.getFields())) if (field.resolve) resolved.push(`${type.name}.${field.name}`);
    }
    expect(resolved.sort()).toEqual(
      [
        'AuditEvent.actor',
        'Experiment.hasNewerTemplateVersion',
        'Experiment.owner',
        'Experiment.template',
        'Experiment.templateVersionSnapshot',
        // Answered to the owner and to staff only.
        'Template.auditTrail',
        'Template.diff',
        'Template.experiments',
        'Template.owner',
        // Answered to the owner and to staff only.
        'Template.pendingShares',
        'Template.sharedWith',
        // Answered to the owner and to staff only.
        'Template.sharedWithTeams',
        // Answered to the team's members and staff only.
        'Team.members',
        'Template.usage',
        'Template.versionSnapshot',
        'Template.versions',
        'TemplateVersion.createdBy',
        // Private: answered to the user and to staff only.
        'User.email',
      ].sort(),
    );
  });
});
