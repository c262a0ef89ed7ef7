import { type IntrospectionField, type IntrospectionObjectType, type IntrospectionQuery, type IntrospectionTypeRef } from 'graphql';
import { Role as TesseraRole } from '../../src/auth/actor';
import { dataOf, useApi, type GraphqlResponse } from '../support/api';
import { createTemplateViaApi, type TestUser } from '../support/factories';

/**
 * Every field that returns a User or a list of them, found by introspection (so a field added later is walked too),
 * read as each kind of caller: a user's email shows only to that user and to staff. A field on a type the walk has no
 * way to reach fails the test until a route to that type is added below.
 *
 * Roles: anonymous, a stranger, the user a template is shared with, a member of a team it is shared with, its owner
 * (the team's maintainer), staff.
 *
 * Two templates are walked: a public one every caller reaches, and a private one only its owner, the user and the team
 * it is shared with and staff (who see every template) reach, with its experiment (staff see every experiment too).
 */

type Role = 'anonymous' | 'stranger' | 'sharedUser' | 'teamMember' | 'owner' | 'staff';
const ROLES: Role[] = ['anonymous', 'stranger', 'sharedUser', 'teamMember', 'owner', 'staff'];

interface World {
  users: Record<Exclude<Role, 'anonymous'>, TestUser>;
  /** Per template walked: the template and an experiment its owner made from it. */
  subjects: Array<{ templateId: string; experimentId: string; isPublic: boolean }>;
  /** The owner's team, the team member in it. */
  teamId: string;
}

const VARIABLE_TYPES: Record<string, string> = { templateId: 'ID!', experimentId: 'ID!', teamId: 'ID!', email: 'String!' };

/** How to reach an object of each type that has user fields: a query with `selection` in place of that object's fields. */
const ROUTES: Record<string, (selection: string) => string> = {
  Query: (selection) => {
    const used = Object.entries(VARIABLE_TYPES).filter(([name]) => selection.includes(`$${name}`));
    const definitions = used.length ? `(${used.map(([name, type]) => `$${name}: ${type}`).join(', ')})` : '';
    return `query Walk${definitions} { ${selection} }`;
  },
  Template: (selection) => ROUTES.Query(`template(id: $templateId) { id ${selection} }`),
  TemplateVersion: (selection) => ROUTES.Template(`versions { id ${selection} }`),
  Experiment: (selection) => ROUTES.Query(`experiment(id: $experimentId) { id ${selection} }`),
  AuditEvent: (selection) => ROUTES.Template(`auditTrail(first: 20) { edges { node { id ${selection} } } }`),
  Team: (selection) => ROUTES.Query(`team(id: $teamId) { id ${selection} }`),
  TeamMember: (selection) => ROUTES.Team(`members { role ${selection} }`),
};

/** Values for the arguments of user fields, by argument name. */
const argumentVariables: Record<string, string> = { email: '$email', id: '$templateId' };

const USER_TYPE = 'User';

/** Every object type's fields with their arguments: graphql-js's whole introspection query is past the cost limit. */
const TYPE_REF = 'kind name ofType { kind name ofType { kind name ofType { kind name } } }';
const INTROSPECT_FIELDS = `{ __schema { types { kind name fields { name type { ${TYPE_REF} } args { name type { ${TYPE_REF} } } } } } }`;

function namedType(type: IntrospectionTypeRef): string {
  return 'ofType' in type && type.ofType ? namedType(type.ofType) : (type as { name: string }).name;
}

function isRequired(type: IntrospectionTypeRef): boolean {
  return type.kind === 'NON_NULL';
}

/** Every object returned at `fieldName` anywhere in `value`. */
function usersAt(value: unknown, fieldName: string, found: Array<{ id: string; email: string | null }> = []) {
  if (Array.isArray(value)) for (const item of value) usersAt(item, fieldName, found);
  else if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (key === fieldName && item) found.push(...(Array.isArray(item) ? item : [item]));
      else usersAt(item, fieldName, found);
    }
  }
  return found;
}

describe('the privacy walk: every field returning a User, as every kind of caller', () => {
  const api = useApi();
  let userFields: Array<{ type: string; field: IntrospectionField }>;
  let world: World;

  beforeAll(async () => {
    const schema = dataOf<IntrospectionQuery>(await api.graphql(INTROSPECT_FIELDS)).__schema;
    userFields = schema.types
      .filter((type): type is IntrospectionObjectType => type.kind === 'OBJECT' && !type.name.startsWith('__'))
      .flatMap((type) => type.fields.filter((field) => namedType(field.type) === USER_TYPE).map((field) => ({ type: type.name, field })));

    const users = {
      owner: await api.user('owner'),
      sharedUser: await api.user('shared'),
      teamMember: await api.user('member'),
      stranger: await api.user('stranger'),
      staff: await api.user('staff', ['admin']),
    };
    // Public, so that every caller reaches its fields; private, reached only by its owner, the user it is shared with
    // and staff. Each shared, so its list of users is not empty; edited, so its history and audit trail hold several
    // authors' and actors' entries.
    const team = dataOf(await api.graphql('mutation { createTeam(name: "Walkers") { id } }', { as: users.owner })).createTeam;
    dataOf(
      await api.graphql('mutation($teamId: ID!, $userIds: [ID!]) { addTeamMembers(teamId: $teamId, userIds: $userIds) { id } }', {
        as: users.owner,
        variables: { teamId: team.id, userIds: [users.teamMember.id] },
      }),
    );
    const subjects: World['subjects'] = [];
    for (const isPublic of [true, false]) {
      const template = await createTemplateViaApi(api, users.owner, { isPublic });
      dataOf(
        await api.graphql('mutation($id: ID!, $userIds: [ID!]) { shareTemplate(id: $id, userIds: $userIds) { id } }', {
          as: users.owner,
          variables: { id: template.id, userIds: [users.sharedUser.id] },
        }),
      );
      dataOf(
        await api.graphql('mutation($id: ID!, $teamIds: [ID!]!) { shareTemplateWithTeams(id: $id, teamIds: $teamIds) { id } }', {
          as: users.owner,
          variables: { id: template.id, teamIds: [team.id] },
        }),
      );
      dataOf(
        await api.graphql('mutation($id: ID!) { updateTemplate(id: $id, input: { name: "Walked" }) { id } }', {
          as: users.owner,
          variables: { id: template.id },
        }),
      );
      const experiment = dataOf(
        await api.graphql('mutation($id: ID!) { createExperimentFromTemplate(input: { templateId: $id }) { id } }', {
          as: users.owner,
          variables: { id: template.id },
        }),
      ).createExperimentFromTemplate;
      subjects.push({ templateId: template.id, experimentId: experiment.id, isPublic });
    }
    world = { users, subjects, teamId: team.id };
  });

  it('finds the fields by introspection, the known ones among them', () => {
    expect(userFields.map(({ type, field }) => `${type}.${field.name}`)).toEqual(
      expect.arrayContaining([
        'Query.me',
        'Query.userByEmail',
        'Template.owner',
        'Template.sharedWith',
        'TemplateVersion.createdBy',
        'Experiment.owner',
        'AuditEvent.actor',
        'TeamMember.user',
      ]),
    );
    const unreachable = userFields.filter(({ type }) => !ROUTES[type]).map(({ type, field }) => `${type}.${field.name}`);
    expect(unreachable).toEqual([]);
  });

  it('shows an email only to its user and to staff, through every one of them', async () => {
    const emailOf = new Map(Object.values(world.users).map((user) => [user.id, user.email]));
    const returned = new Set<string>();
    const shown = new Set<string>();
    const leaks: string[] = [];
    // Who reached each template's users: the private one only its owner, the user it is shared with and staff.
    const reached = new Map<string, Set<Role>>();
    const perSubjectFields = new Set<string>();
    for (const { type, field } of userFields) {
      const args = field.args.map((arg) => {
        const variable = argumentVariables[arg.name];
        if (!variable && isRequired(arg.type)) throw new Error(`no value for the required argument ${type}.${field.name}(${arg.name})`);
        return variable ? `${arg.name}: ${variable}` : '';
      });
      const argumentList = args.some(Boolean) ? `(${args.filter(Boolean).join(', ')})` : '';
      const query = ROUTES[type](`${field.name}${argumentList} { id email }`);
      const perSubject = query.includes('$templateId') || query.includes('$experimentId');
      if (perSubject) perSubjectFields.add(`${type}.${field.name}`);
      for (const subject of perSubject ? world.subjects : world.subjects.slice(0, 1)) {
        for (const role of ROLES) {
          const caller = role === 'anonymous' ? null : world.users[role];
          const values = {
            templateId: subject.templateId,
            experimentId: subject.experimentId,
            teamId: world.teamId,
            email: world.users.owner.email,
          };
          const response: GraphqlResponse = await api.graphql(query, {
            as: caller,
            variables: Object.fromEntries(Object.entries(values).filter(([name]) => query.includes(`$${name}`))),
          });
          for (const error of response.body.errors ?? []) {
            // A field that needs a caller refuses anonymous ones; nothing else may fail.
            expect({ role, field: `${type}.${field.name}`, code: error.extensions?.code }).toEqual({
              role: 'anonymous',
              field: `${type}.${field.name}`,
              code: 'UNAUTHENTICATED',
            });
          }
          const users = usersAt(response.body.data, field.name);
          if (perSubject && !subject.isPublic && users.length > 0) {
            reached.set(`${type}.${field.name}`, (reached.get(`${type}.${field.name}`) ?? new Set()).add(role));
          }
          for (const user of users) {
            const allowed = caller !== null && (caller.id === user.id || caller.roles.includes(TesseraRole.STAFF));
            const expected = allowed ? (emailOf.get(user.id) ?? user.email) : null;
            if (user.email !== expected) leaks.push(`${role} read ${type}.${field.name} of ${user.id}: ${String(user.email)}`);
            returned.add(`${type}.${field.name}`);
            if (user.email !== null) shown.add(`${type}.${field.name}`);
          }
        }
      }
    }
    expect(leaks).toEqual([]);
    // Not a walk of empty answers: every field returned users, and showed an email to a caller allowed to see it (staff
    // among them, who read every template's `sharedWith`).
    const walked = userFields.map(({ type, field }) => `${type}.${field.name}`).sort();
    expect([...returned].sort()).toEqual(walked);
    expect([...shown].sort()).toEqual(walked);
    // The private template's users reached nobody but its owner, the user and the team member it is shared with and
    // staff; staff reached every one of its user fields, as staff see every template and experiment.
    for (const [name, roles] of reached) {
      expect({ name, roles: [...roles].filter((role) => !['owner', 'sharedUser', 'teamMember', 'staff'].includes(role)) }).toEqual({
        name,
        roles: [],
      });
    }
    expect(reached.get('Template.owner')).toEqual(new Set(['owner', 'sharedUser', 'teamMember', 'staff']));
    const privateFields = [...perSubjectFields].sort();
    expect(privateFields.filter((name) => !reached.get(name)?.has('staff'))).toEqual([]);
  });
});
