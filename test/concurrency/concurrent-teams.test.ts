import { dataOf, useApi, type GraphqlResponse } from '../support/api';
import { auditEventsOf, insertTemplates, listIds, type TestUser } from '../support/factories';

/**
 * 200 concurrent team-membership changes and template shares with a team over real HTTP, twice over: every change is
 * asked for twice at once, so each lands exactly once. The end state is exact, no caller sees an error, and each
 * effective change has exactly one audit event.
 */

const ADD = 'mutation($teamId: ID!, $userIds: [ID!]) { addTeamMembers(teamId: $teamId, userIds: $userIds) { id } }';
const REMOVE = 'mutation($teamId: ID!, $userIds: [ID!]!) { removeTeamMembers(teamId: $teamId, userIds: $userIds) { id } }';
const PROMOTE = 'mutation($teamId: ID!, $userId: ID!) { setTeamMemberRole(teamId: $teamId, userId: $userId, role: MAINTAINER) { id } }';
const SHARE = 'mutation($id: ID!, $teamIds: [ID!]!) { shareTemplateWithTeams(id: $id, teamIds: $teamIds) { id } }';
const UNSHARE = 'mutation($id: ID!, $teamIds: [ID!]!) { unshareTemplateFromTeams(id: $id, teamIds: $teamIds) { id } }';

describe('200 concurrent team changes over HTTP', () => {
  const api = useApi();
  let owner: TestUser;
  let users: TestUser[];

  beforeAll(async () => {
    owner = await api.user('owner');
    users = [];
    // In batches: 80 first requests at once would themselves be a burst of user inserts.
    for (let i = 0; i < 80; i += 20) users.push(...(await Promise.all(Array.from({ length: 20 }, (_, j) => api.user(`member${i + j}`)))));
  });

  async function all(calls: Array<() => Promise<GraphqlResponse>>): Promise<void> {
    const responses = await Promise.all(calls.map((call) => call()));
    for (const response of responses) dataOf(response);
  }

  const twice = <T>(items: T[]) => items.flatMap((item) => [item, item]);

  it('end with the exact members, roles and shares, and one event per effective change', async () => {
    const { createTeam } = dataOf(await api.graphql('mutation { createTeam(name: "Busy") { id } }', { as: owner }));
    const teamId: string = createTeam.id;
    const templates = await insertTemplates(
      api,
      Array.from({ length: 40 }, () => ({ ownerId: owner.id })),
    );
    const as = { as: owner };

    // 120 adds (60 users, each twice) and 80 shares (40 templates, each twice), all at once.
    await all([
      ...twice(users.slice(0, 60)).map((user) => () => api.graphql(ADD, { ...as, variables: { teamId, userIds: [user.id] } })),
      ...twice(templates).map((id) => () => api.graphql(SHARE, { ...as, variables: { id, teamIds: [teamId] } })),
    ]);
    // 60 removals (30 users), 60 promotions (30 others), 40 unshares (20 templates), 40 adds (20 new users), all at once.
    await all([
      ...twice(users.slice(0, 30)).map((user) => () => api.graphql(REMOVE, { ...as, variables: { teamId, userIds: [user.id] } })),
      ...twice(users.slice(30, 60)).map((user) => () => api.graphql(PROMOTE, { ...as, variables: { teamId, userId: user.id } })),
      ...twice(templates.slice(0, 20)).map((id) => () => api.graphql(UNSHARE, { ...as, variables: { id, teamIds: [teamId] } })),
      ...twice(users.slice(60, 80)).map((user) => () => api.graphql(ADD, { ...as, variables: { teamId, userIds: [user.id] } })),
    ]);

    const members = await api.db.query<{ user_id: string; role: string }>('select user_id, role from team_members where team_id = $1', [
      teamId,
    ]);
    const expected = [
      [owner.id, 'maintainer'],
      ...users.slice(30, 60).map((user) => [user.id, 'maintainer']),
      ...users.slice(60, 80).map((user) => [user.id, 'member']),
    ];
    expect(members.map((m) => [m.user_id, m.role]).sort()).toEqual(expected.sort());
    const shares = await api.db.query<{ template_id: string }>(
      'select template_id from experiment_template_team_shares where team_id = $1',
      [teamId],
    );
    expect(shares.map((s) => s.template_id).sort()).toEqual(templates.slice(20).sort());

    const teamEvents = await auditEventsOf(api, teamId);
    const count = (action: string) => teamEvents.filter((e) => e.action === action);
    expect(
      count('team.members_added')
        .map((e) => e.details.userIds[0])
        .sort(),
    ).toEqual([...users.slice(0, 60), ...users.slice(60, 80)].map((u) => u.id).sort());
    expect(
      count('team.members_removed')
        .map((e) => e.details.userIds[0])
        .sort(),
    ).toEqual(
      users
        .slice(0, 30)
        .map((u) => u.id)
        .sort(),
    );
    expect(
      count('team.member_role_changed')
        .map((e) => e.details.userId)
        .sort(),
    ).toEqual(
      users
        .slice(30, 60)
        .map((u) => u.id)
        .sort(),
    );
    for (const [index, id] of templates.entries()) {
      const actions = (await auditEventsOf(api, id)).map((e) => [e.action, e.details]);
      const shared = ['template.shared', { teamIds: [teamId] }];
      expect(actions).toEqual(index < 20 ? [shared, ['template.unshared', { teamIds: [teamId] }]] : [shared]);
    }

    // The members who were removed see none of the team's templates; the others see the twenty still shared.
    const sharedWith = async (user: TestUser) => (await listIds(api, user, { filter: { scope: 'SHARED_WITH_ME' } })).ids.sort();
    expect(await sharedWith(users[0])).toEqual([]);
    expect(await sharedWith(users[70])).toEqual(templates.slice(20).sort());
  });
});
