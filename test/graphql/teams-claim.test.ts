import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { dataOf, TEST_JWT_SECRET, useApi, type Api } from '../support/api';
import { auditEventsOf, type TestUser } from '../support/factories';

/** A token as an identity provider with groups would sign it. */
async function tokenWithGroups(subject: string, groups: unknown): Promise<{ token: string }> {
  const token = await new SignJWT({ email: `${subject}@example.test`, ...(groups === undefined ? {} : { groups }) })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(subject)
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(TEST_JWT_SECRET));
  return { token };
}

async function teamFollowing(api: Api, maintainer: TestUser, staff: TestUser, externalId: string | null): Promise<string> {
  const { createTeam } = dataOf(await api.graphql('mutation { createTeam(name: "Followed") { id } }', { as: maintainer }));
  if (externalId) {
    dataOf(
      await api.graphql(
        'mutation($teamId: ID!, $externalId: String) { setTeamExternalId(teamId: $teamId, externalId: $externalId) { id } }',
        {
          as: staff,
          variables: { teamId: createTeam.id, externalId },
        },
      ),
    );
  }
  return createTeam.id;
}

const MY_TEAMS = '{ me { id } myTeams { id } }';

describe('TEAMS_CLAIM=groups', () => {
  const api = useApi({ env: { TEAMS_CLAIM: 'groups' } });

  it("keeps the caller's membership of teams following a group in step with the token's groups, leaving other teams alone", async () => {
    const [maintainer, staff] = await Promise.all([api.user('maintainer'), api.user('staff', ['admin'])]);
    const [groupA, groupB] = [`grp-a-${randomUUID()}`, `grp-b-${randomUUID()}`];
    const teamA = await teamFollowing(api, maintainer, staff, groupA);
    const teamB = await teamFollowing(api, maintainer, staff, groupB);
    const local = await teamFollowing(api, maintainer, staff, null);
    const subject = `idp|${randomUUID()}`;

    const first = dataOf(await api.graphql(MY_TEAMS, { as: await tokenWithGroups(subject, [groupA, 'not-a-team']) }));
    const userId: string = first.me.id;
    expect(first.myTeams).toEqual([{ id: teamA }]);
    dataOf(
      await api.graphql('mutation($teamId: ID!, $userIds: [ID!]) { addTeamMembers(teamId: $teamId, userIds: $userIds) { id } }', {
        as: maintainer,
        variables: { teamId: local, userIds: [userId] },
      }),
    );

    const moved = dataOf(await api.graphql(MY_TEAMS, { as: await tokenWithGroups(subject, [groupB]) }));
    expect(moved.myTeams.map((team: { id: string }) => team.id).sort()).toEqual([teamB, local].sort());
    const roles = await api.db.query('select team_id, role from team_members where user_id = $1 order by team_id', [userId]);
    expect(roles).toEqual([teamB, local].sort().map((teamId) => ({ team_id: teamId, role: 'member' })));

    const eventsOf = async (teamId: string) =>
      (await auditEventsOf(api, teamId)).filter((e) => e.actorId === userId).map((e) => [e.action, e.actorKind, e.details]);
    expect(await eventsOf(teamA)).toEqual([
      ['team.members_added', 'user', { userIds: [userId], role: 'member', viaTeamsClaim: true }],
      ['team.members_removed', 'user', { userIds: [userId], viaTeamsClaim: true }],
    ]);
    expect(await eventsOf(teamB)).toEqual([['team.members_added', 'user', { userIds: [userId], role: 'member', viaTeamsClaim: true }]]);

    // A token without the claim, or with something else than a list, changes nothing.
    for (const groups of [undefined, 'grp-a']) {
      const unchanged = dataOf(await api.graphql(MY_TEAMS, { as: await tokenWithGroups(subject, groups) }));
      expect(unchanged.myTeams.map((team: { id: string }) => team.id).sort()).toEqual([teamB, local].sort());
    }
  });

  it('writes nothing for groups in step: nothing at all when this process saw them last, one read otherwise', async () => {
    const [maintainer, staff] = await Promise.all([api.user('maintainer'), api.user('staff', ['admin'])]);
    const group = `grp-${randomUUID()}`;
    const teamId = await teamFollowing(api, maintainer, staff, group);
    const subject = `idp|${randomUUID()}`;
    const caller = await tokenWithGroups(subject, [group]);
    expect(dataOf(await api.graphql(MY_TEAMS, { as: caller })).myTeams).toEqual([{ id: teamId }]);

    const again = await api.countStatements(() => api.graphql('{ me { id } }', { as: caller }));
    expect(again.statements).toEqual([expect.stringMatching(/^select .* from users u/)]);

    // Other groups, none of them a team's: one read finds nothing to change, and nothing is written.
    const changedGroups = await tokenWithGroups(subject, [group, `no-team-${randomUUID()}`]);
    const read = await api.countStatements(() => api.graphql('{ me { id } }', { as: changedGroups }));
    expect(read.statements.filter((sql) => /\b(insert|update|delete|begin)\b/i.test(sql))).toEqual([]);
    expect(read.statements.filter((sql) => /team_members/.test(sql))).toHaveLength(1);
    expect(dataOf(read.result).me).not.toBeNull();
  });
});

describe('without TEAMS_CLAIM', () => {
  const api = useApi();

  it("leaves memberships alone whatever the token's groups", async () => {
    const [maintainer, staff] = await Promise.all([api.user('maintainer'), api.user('staff', ['admin'])]);
    const group = `grp-${randomUUID()}`;
    await teamFollowing(api, maintainer, staff, group);
    const caller = await tokenWithGroups(`idp|${randomUUID()}`, [group]);
    expect(dataOf(await api.graphql(MY_TEAMS, { as: caller })).myTeams).toEqual([]);
  });
});
