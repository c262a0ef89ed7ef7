/**
 * The authorization matrix of teams: every team query and mutation, and sharing a template with a team, for every
 * kind of caller, over real HTTP against real PostgreSQL. The expected outcome of each cell comes from the rules below
 * (README, Teams), never from what the server answers. As in access-matrix.test.ts, every cell also checks that ids
 * leak nothing (where the team is hidden from the caller, the whole answer is the one a random id gets) and that a
 * refused mutation writes nothing.
 */
import { randomUUID } from 'node:crypto';
import { dataOf, errorOf, useApi, type GraphqlResponse } from '../support/api';
import { insertTemplates, type TestUser } from '../support/factories';

type Caller = 'maintainer' | 'member' | 'formerMember' | 'nonMember' | 'staff' | 'anonymous';
const CALLERS: Caller[] = ['maintainer', 'member', 'formerMember', 'nonMember', 'staff', 'anonymous'];

type Outcome = 'OK' | 'NULL' | 'UNAUTHENTICATED' | 'FORBIDDEN' | 'NOT_FOUND' | 'BAD_USER_INPUT';
type Rules = Array<[applies: (caller: Caller) => boolean, outcome: Outcome]>;

const isMember = (caller: Caller) => caller === 'maintainer' || caller === 'member';
/** The one visibility rule of teams: its members and staff. */
const seesTeam = (caller: Caller) => isMember(caller) || caller === 'staff';
const always = () => true;

const RULES = {
  read: [
    [(c) => !seesTeam(c), 'NULL'],
    [always, 'OK'],
  ] as Rules,
  /** Maintainers and staff manage; other members are FORBIDDEN; to anyone else the team does not exist. */
  manage: [
    [(c) => c === 'anonymous', 'UNAUTHENTICATED'],
    [(c) => !seesTeam(c), 'NOT_FOUND'],
    [(c) => c === 'member', 'FORBIDDEN'],
    [always, 'OK'],
  ] as Rules,
  /** Members leave; staff who are not members have nothing to leave. */
  leave: [
    [(c) => c === 'anonymous', 'UNAUTHENTICATED'],
    [(c) => !isMember(c), 'NOT_FOUND'],
    [always, 'OK'],
  ] as Rules,
  staffOnly: [
    [(c) => c === 'anonymous', 'UNAUTHENTICATED'],
    [(c) => c !== 'staff', 'FORBIDDEN'],
    [always, 'OK'],
  ] as Rules,
  /** Owners share their templates with teams they may see; any other team is "no such team", as a random id. */
  shareWith: [
    [(c) => c === 'anonymous', 'UNAUTHENTICATED'],
    [(c) => !seesTeam(c), 'BAD_USER_INPUT'],
    [always, 'OK'],
  ] as Rules,
};

type People = Record<Exclude<Caller, 'anonymous'>, TestUser> & { coMaintainer: TestUser; bystander: TestUser; newcomer: TestUser };

interface CellContext {
  caller: Caller;
  as: TestUser | null;
  people: People;
  teamId: string;
  /** The caller's own template, for sharing. */
  templateId: string | null;
}

interface Operation {
  name: string;
  document: string;
  rules: Rules;
  variables(teamId: string, context: CellContext): Record<string, unknown>;
  checkOk(data: any, context: CellContext): void;
}

const byTeam = (teamId: string) => ({ teamId });

const OPERATIONS: Operation[] = [
  {
    name: 'team',
    document: 'query($teamId: ID!) { team(id: $teamId) { id name members { role user { id } } } }',
    rules: RULES.read,
    variables: byTeam,
    checkOk: ({ team }, { teamId, people }) => {
      expect(team.id).toBe(teamId);
      expect(team.members.map((m: { user: { id: string } }) => m.user.id).sort()).toEqual(
        [people.maintainer.id, people.coMaintainer.id, people.member.id, people.bystander.id].sort(),
      );
    },
  },
  {
    name: 'renameTeam',
    document: 'mutation($teamId: ID!) { renameTeam(teamId: $teamId, name: "Renamed by the matrix") { id name } }',
    rules: RULES.manage,
    variables: byTeam,
    checkOk: ({ renameTeam }) => expect(renameTeam.name).toBe('Renamed by the matrix'),
  },
  {
    name: 'addTeamMembers',
    document:
      'mutation($teamId: ID!, $userIds: [ID!]) { addTeamMembers(teamId: $teamId, userIds: $userIds) { id members { user { id } } } }',
    rules: RULES.manage,
    variables: (teamId, { people }) => ({ teamId, userIds: [people.newcomer.id] }),
    checkOk: ({ addTeamMembers }, { people }) =>
      expect(addTeamMembers.members.map((m: { user: { id: string } }) => m.user.id)).toContain(people.newcomer.id),
  },
  {
    name: 'removeTeamMembers',
    document:
      'mutation($teamId: ID!, $userIds: [ID!]!) { removeTeamMembers(teamId: $teamId, userIds: $userIds) { id members { user { id } } } }',
    rules: RULES.manage,
    variables: (teamId, { people }) => ({ teamId, userIds: [people.bystander.id] }),
    checkOk: ({ removeTeamMembers }, { people }) =>
      expect(removeTeamMembers.members.map((m: { user: { id: string } }) => m.user.id)).not.toContain(people.bystander.id),
  },
  {
    name: 'setTeamMemberRole',
    document:
      'mutation($teamId: ID!, $userId: ID!) { setTeamMemberRole(teamId: $teamId, userId: $userId, role: MAINTAINER) { id members { role user { id } } } }',
    rules: RULES.manage,
    variables: (teamId, { people }) => ({ teamId, userId: people.bystander.id }),
    checkOk: ({ setTeamMemberRole }, { people }) =>
      expect(setTeamMemberRole.members).toContainEqual({ role: 'MAINTAINER', user: { id: people.bystander.id } }),
  },
  {
    name: 'leaveTeam',
    document: 'mutation($teamId: ID!) { leaveTeam(teamId: $teamId) }',
    rules: RULES.leave,
    variables: byTeam,
    checkOk: ({ leaveTeam }, { teamId }) => expect(leaveTeam).toBe(teamId),
  },
  {
    name: 'deleteTeam',
    document: 'mutation($teamId: ID!) { deleteTeam(teamId: $teamId) }',
    rules: RULES.manage,
    variables: byTeam,
    checkOk: ({ deleteTeam }, { teamId }) => expect(deleteTeam).toBe(teamId),
  },
  {
    name: 'setTeamExternalId',
    document:
      'mutation($teamId: ID!, $externalId: String) { setTeamExternalId(teamId: $teamId, externalId: $externalId) { id externalId } }',
    rules: RULES.staffOnly,
    variables: (teamId) => ({ teamId, externalId: `matrix-${teamId}` }),
    checkOk: ({ setTeamExternalId }, { teamId }) => expect(setTeamExternalId).toEqual({ id: teamId, externalId: `matrix-${teamId}` }),
  },
  {
    name: 'shareTemplateWithTeams',
    document: 'mutation($id: ID!, $teamIds: [ID!]!) { shareTemplateWithTeams(id: $id, teamIds: $teamIds) { id sharedWithTeams { id } } }',
    rules: RULES.shareWith,
    // Anonymous callers own no template: a random one, refused before it is looked at.
    variables: (teamId, { templateId }) => ({ id: templateId ?? randomUUID(), teamIds: [teamId] }),
    checkOk: ({ shareTemplateWithTeams }, { teamId }) => expect(shareTemplateWithTeams.sharedWithTeams).toEqual([{ id: teamId }]),
  },
];

describe('team access matrix over HTTP', () => {
  const api = useApi();
  let people: People;

  beforeAll(async () => {
    const names = ['maintainer', 'member', 'formerMember', 'nonMember', 'coMaintainer', 'bystander', 'newcomer'] as const;
    const made = await Promise.all(names.map((name) => api.user(name)));
    people = { ...Object.fromEntries(names.map((name, i) => [name, made[i]])), staff: await api.user('staff', ['admin']) } as People;
  });

  /** A team of its own for a cell: two maintainers, a member, a bystander member, and a member removed since. */
  async function teamOf(): Promise<string> {
    const [{ id }] = await api.db.query<{ id: string }>(
      `with team as (
         insert into teams (name, created_by) values ('Matrix team', $1) returning id
       ), members as (
         insert into team_members (team_id, user_id, role)
         select team.id, m.user_id, m.role from team, unnest($2::uuid[], $3::text[]) as m(user_id, role)
       ), created as (
         insert into audit_events (request_id, actor_id, actor_kind, action, subject_type, subject_id)
         select gen_random_uuid(), $1, 'user', 'team.created', 'team', team.id from team
       )
       select id from team`,
      [
        people.maintainer.id,
        [people.maintainer.id, people.coMaintainer.id, people.member.id, people.bystander.id, people.formerMember.id],
        ['maintainer', 'maintainer', 'member', 'member', 'member'],
      ],
    );
    await api.db.query('delete from team_members where team_id = $1 and user_id = $2', [id, people.formerMember.id]);
    return id;
  }

  async function stateOf(teamId: string) {
    const [state] = await api.db.query(
      `select
         (select to_jsonb(t) from teams t where t.id = $1) as team,
         (select jsonb_agg(m order by m.user_id) from team_members m where m.team_id = $1) as members,
         (select jsonb_agg(s order by s.template_id) from experiment_template_team_shares s where s.team_id = $1) as shares,
         (select count(*) from audit_events) as audit_events_count,
         (select count(*) from teams) as teams_count`,
      [teamId],
    );
    return state;
  }

  const cells = OPERATIONS.flatMap((operation) =>
    CALLERS.map((caller) => ({ op: operation.name, caller, expected: operation.rules.find(([applies]) => applies(caller))![1] })),
  );

  it.each(cells)('$op as $caller: $expected', async ({ op, caller, expected }) => {
    const operation = OPERATIONS.find((candidate) => candidate.name === op)!;
    const teamId = await teamOf();
    const as = caller === 'anonymous' ? null : people[caller];
    const [templateId] = as ? await insertTemplates(api, [{ ownerId: as.id }]) : [null];
    const context: CellContext = { caller, as, people, teamId, templateId };
    const send = (id: string) => api.graphql(operation.document, { as, variables: operation.variables(id, context) });

    const isMutation = operation.document.startsWith('mutation');
    const before = isMutation && expected !== 'OK' ? await stateOf(teamId) : undefined;
    const response = await send(teamId);
    expectOutcome(operation, expected, response, context);
    if (before) expect(await stateOf(teamId)).toEqual(before);
    if (isMutation && expected === 'OK') {
      // Each effective change has its event, a staff member's marked as staff's.
      const [event] = await api.db.query<{ actor_kind: string }>(
        'select actor_kind from audit_events where actor_id = $1 and subject_id in ($2, $3) order by occurred_at desc limit 1',
        [as!.id, teamId, templateId],
      );
      expect(event).toEqual({ actor_kind: caller === 'staff' ? 'staff' : 'user' });
    }

    if (!seesTeam(caller)) {
      expect(JSON.stringify(response.body)).not.toContain(teamId);
      expect(response).toEqual(await send(randomUUID()));
    }
  });

  function expectOutcome(operation: Operation, expected: Outcome, response: GraphqlResponse, context: CellContext) {
    switch (expected) {
      case 'OK':
        operation.checkOk(dataOf(response), context);
        break;
      case 'NULL':
        expect(response.body).toEqual({ data: { team: null } });
        break;
      default:
        expect(response.body.errors).toHaveLength(1);
        expect(errorOf(response).code).toBe(expected);
    }
  }
});
