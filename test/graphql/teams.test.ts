import { randomUUID } from 'node:crypto';
import { dataOf, errorOf, useApi } from '../support/api';
import { auditEventsOf, createTemplateViaApi, type TestUser } from '../support/factories';

const TEAM_FIELDS = 'id name externalId members { role user { id email displayName } }';

describe('teams over HTTP', () => {
  const api = useApi();

  async function createTeam(as: TestUser, name = 'Fraud models'): Promise<string> {
    const response = await api.graphql('mutation($name: String!) { createTeam(name: $name) { id } }', { as, variables: { name } });
    return dataOf(response).createTeam.id;
  }

  async function addMembers(as: TestUser, teamId: string, userIds: string[], role = 'MEMBER') {
    return api.graphql(
      `mutation($teamId: ID!, $userIds: [ID!], $role: TeamRole!) {
         addTeamMembers(teamId: $teamId, userIds: $userIds, role: $role) { id members { role user { id } } }
       }`,
      { as, variables: { teamId, userIds, role } },
    );
  }

  async function membersOf(teamId: string): Promise<Array<{ user_id: string; role: string }>> {
    return api.db.query("select user_id, role from team_members where team_id = $1 order by role = 'maintainer' desc, user_id", [teamId]);
  }

  const team = (as: TestUser | null, id: string) =>
    api.graphql(`query($id: ID!) { team(id: $id) { ${TEAM_FIELDS} } }`, { as, variables: { id } });

  describe('createTeam', () => {
    it('makes the creator its maintainer and records one event', async () => {
      const ada = await api.user('ada');
      const response = await api.graphql(`mutation { createTeam(name: "  Fraud models  ") { ${TEAM_FIELDS} } }`, { as: ada });
      const created = dataOf(response).createTeam;
      expect(created).toEqual({
        id: expect.any(String),
        name: 'Fraud models',
        externalId: null,
        members: [{ role: 'MAINTAINER', user: { id: ada.id, email: ada.email, displayName: expect.any(String) } }],
      });
      const events = await auditEventsOf(api, created.id);
      expect(events).toEqual([
        expect.objectContaining({
          action: 'team.created',
          subjectType: 'team',
          actorId: ada.id,
          actorKind: 'user',
          details: { name: 'Fraud models' },
        }),
      ]);
    });

    it('refuses an empty or too long name with its path, and anonymous callers', async () => {
      const ada = await api.user('ada');
      for (const name of ['   ', 'x'.repeat(256), 'nul\u0000']) {
        const error = errorOf(
          await api.graphql('mutation($name: String!) { createTeam(name: $name) { id } }', { as: ada, variables: { name } }),
        );
        expect(error.code).toBe('BAD_USER_INPUT');
        expect(error.extensions.validationErrors.map((e: { path: string }) => e.path)).toEqual(['/name']);
      }
      expect(errorOf(await api.graphql('mutation { createTeam(name: "x") { id } }')).code).toBe('UNAUTHENTICATED');
      expect(await api.db.query('select 1 from teams t join team_members m on m.team_id = t.id where m.user_id = $1', [ada.id])).toEqual(
        [],
      );
    });
  });

  describe('team(id) and myTeams', () => {
    it('show a team to its members and staff, with emails by the email rule; null to anyone else, as a random id', async () => {
      const [ada, bob, eve, staff] = await Promise.all([api.user('ada'), api.user('bob'), api.user('eve'), api.user('staff', ['admin'])]);
      const teamId = await createTeam(ada);
      dataOf(await addMembers(ada, teamId, [bob.id]));

      const asBob = dataOf(await team(bob, teamId)).team;
      expect(asBob.members).toEqual([
        { role: 'MAINTAINER', user: { id: ada.id, email: null, displayName: expect.any(String) } },
        { role: 'MEMBER', user: { id: bob.id, email: bob.email, displayName: expect.any(String) } },
      ]);
      const asStaff = dataOf(await team(staff, teamId)).team;
      expect(asStaff.members.map((m: { user: { email: string } }) => m.user.email)).toEqual([ada.email, bob.email]);

      for (const caller of [eve, null]) {
        const hidden = await team(caller, teamId);
        expect(hidden).toEqual(await team(caller, randomUUID()));
        expect(hidden.body).toEqual({ data: { team: null } });
      }
      expect((await team(ada, 'not-a-uuid')).body).toEqual({ data: { team: null } });
    });

    it('myTeams lists the caller’s teams by name, with anything else left out', async () => {
      const [ada, bob] = await Promise.all([api.user('ada'), api.user('bob')]);
      const zeta = await createTeam(ada, 'Zeta');
      const alpha = await createTeam(bob, 'Alpha');
      await createTeam(bob, 'Bob only');
      dataOf(await addMembers(bob, alpha, [ada.id]));
      const { myTeams } = dataOf(await api.graphql('{ myTeams { id name } }', { as: ada }));
      expect(myTeams).toEqual([
        { id: alpha, name: 'Alpha' },
        { id: zeta, name: 'Zeta' },
      ]);
      expect(errorOf(await api.graphql('{ myTeams { id } }')).code).toBe('UNAUTHENTICATED');
    });
  });

  describe('renameTeam', () => {
    it('renames for a maintainer, once; FORBIDDEN for a member, NOT_FOUND for others as for a random id', async () => {
      const [ada, bob, eve] = await Promise.all([api.user('ada'), api.user('bob'), api.user('eve')]);
      const teamId = await createTeam(ada, 'Old');
      dataOf(await addMembers(ada, teamId, [bob.id]));
      const rename = (as: TestUser, id: string, name: string) =>
        api.graphql('mutation($id: ID!, $name: String!) { renameTeam(teamId: $id, name: $name) { id name } }', {
          as,
          variables: { id, name },
        });

      expect(dataOf(await rename(ada, teamId, 'New')).renameTeam).toEqual({ id: teamId, name: 'New' });
      expect(dataOf(await rename(ada, teamId, 'New')).renameTeam).toEqual({ id: teamId, name: 'New' });
      expect(errorOf(await rename(bob, teamId, 'Bob’s')).code).toBe('FORBIDDEN');
      const hidden = await rename(eve, teamId, 'Eve’s');
      expect(errorOf(hidden).code).toBe('NOT_FOUND');
      expect(hidden).toEqual(await rename(eve, randomUUID(), 'Eve’s'));
      expect(errorOf(await rename(ada, teamId, '')).extensions.validationErrors).toEqual([{ path: '/name', message: 'must not be empty' }]);

      const events = (await auditEventsOf(api, teamId)).filter((e) => e.action === 'team.renamed');
      expect(events.map((e) => e.details)).toEqual([{ from: 'Old', to: 'New' }]);
    });
  });

  describe('addTeamMembers', () => {
    it('adds by id and by email in any case, with the role asked; members already in keep theirs; one event', async () => {
      const [ada, bob, carol, dan] = await Promise.all([api.user('ada'), api.user('bob'), api.user('carol'), api.user('dan')]);
      const teamId = await createTeam(ada);
      const response = await api.graphql(
        `mutation($teamId: ID!, $userIds: [ID!], $emails: [String!]) {
           addTeamMembers(teamId: $teamId, userIds: $userIds, emails: $emails, role: MAINTAINER) { id }
         }`,
        { as: ada, variables: { teamId, userIds: [bob.id.toUpperCase(), ada.id], emails: [` ${carol.email.toUpperCase()} `, bob.email] } },
      );
      dataOf(response);
      expect(await membersOf(teamId)).toEqual([ada.id, bob.id, carol.id].sort().map((id) => ({ user_id: id, role: 'maintainer' })));
      dataOf(await addMembers(ada, teamId, [bob.id, dan.id]));
      expect((await membersOf(teamId)).find((m) => m.user_id === bob.id)!.role).toBe('maintainer');
      const added = (await auditEventsOf(api, teamId)).filter((e) => e.action === 'team.members_added').map((e) => e.details);
      expect(added).toEqual([
        { userIds: [bob.id, carol.id], role: 'maintainer' },
        { userIds: [dan.id], role: 'member' },
      ]);
      // Adding who is already in changes nothing and records nothing.
      dataOf(await addMembers(ada, teamId, [dan.id]));
      expect((await auditEventsOf(api, teamId)).filter((e) => e.action === 'team.members_added')).toHaveLength(2);
    });

    it('answers an unknown id BAD_USER_INPUT and an unknown email NOT_FOUND, each at its path, adding nobody', async () => {
      const [ada, bob] = await Promise.all([api.user('ada'), api.user('bob')]);
      const teamId = await createTeam(ada);
      const unknownId = errorOf(await addMembers(ada, teamId, [bob.id, randomUUID()]));
      expect(unknownId).toMatchObject({
        code: 'BAD_USER_INPUT',
        extensions: { validationErrors: [{ path: '/userIds/1', message: 'no such user' }] },
      });
      const unknownEmail = errorOf(
        await api.graphql('mutation($teamId: ID!, $emails: [String!]) { addTeamMembers(teamId: $teamId, emails: $emails) { id } }', {
          as: ada,
          variables: { teamId, emails: [bob.email, 'nobody-yet@example.test'] },
        }),
      );
      expect(unknownEmail).toMatchObject({ code: 'NOT_FOUND', extensions: { path: '/emails/1' } });
      const malformed = errorOf(
        await api.graphql(
          'mutation($teamId: ID!, $userIds: [ID!], $emails: [String!]) { addTeamMembers(teamId: $teamId, userIds: $userIds, emails: $emails) { id } }',
          {
            as: ada,
            variables: { teamId, userIds: ['nope'], emails: ['not an address'] },
          },
        ),
      );
      expect(malformed.extensions.validationErrors.map((e: { path: string }) => e.path)).toEqual(['/userIds/0', '/emails/0']);
      const nobody = errorOf(
        await api.graphql('mutation($teamId: ID!) { addTeamMembers(teamId: $teamId) { id } }', { as: ada, variables: { teamId } }),
      );
      expect(nobody.extensions.validationErrors).toEqual([{ path: '/userIds', message: 'must list at least one user, here or in emails' }]);
      expect(await membersOf(teamId)).toEqual([{ user_id: ada.id, role: 'maintainer' }]);
      expect((await auditEventsOf(api, teamId)).map((e) => e.action)).toEqual(['team.created']);
    });
  });

  describe('removeTeamMembers, setTeamMemberRole and leaveTeam', () => {
    it('removes members, who lose the team on their next request; never the last maintainer', async () => {
      const [ada, bob, carol] = await Promise.all([api.user('ada'), api.user('bob'), api.user('carol')]);
      const teamId = await createTeam(ada);
      dataOf(await addMembers(ada, teamId, [bob.id, carol.id]));
      expect(dataOf(await team(bob, teamId)).team.id).toBe(teamId);

      const remove = (as: TestUser, userIds: string[]) =>
        api.graphql('mutation($teamId: ID!, $userIds: [ID!]!) { removeTeamMembers(teamId: $teamId, userIds: $userIds) { id } }', {
          as,
          variables: { teamId, userIds },
        });
      dataOf(await remove(ada, [bob.id, randomUUID()]));
      expect((await team(bob, teamId)).body).toEqual({ data: { team: null } });
      expect(errorOf(await remove(bob, [carol.id])).code).toBe('NOT_FOUND');
      expect(errorOf(await remove(carol, [ada.id])).code).toBe('FORBIDDEN');

      const last = errorOf(await remove(ada, [ada.id, carol.id]));
      expect(last).toMatchObject({ code: 'CONFLICT', extensions: { reason: 'LAST_MAINTAINER' } });
      expect(last.message).toMatch(/at least one maintainer/);
      expect(await membersOf(teamId)).toEqual([
        { user_id: ada.id, role: 'maintainer' },
        { user_id: carol.id, role: 'member' },
      ]);
      const removed = (await auditEventsOf(api, teamId)).filter((e) => e.action === 'team.members_removed').map((e) => e.details);
      expect(removed).toEqual([{ userIds: [bob.id] }]);
    });

    it('changes roles, never demoting the last maintainer; a non-member is BAD_USER_INPUT at /userId', async () => {
      const [ada, bob, eve] = await Promise.all([api.user('ada'), api.user('bob'), api.user('eve')]);
      const teamId = await createTeam(ada);
      dataOf(await addMembers(ada, teamId, [bob.id]));
      const setRole = (as: TestUser, userId: string, role: string) =>
        api.graphql(
          'mutation($teamId: ID!, $userId: ID!, $role: TeamRole!) { setTeamMemberRole(teamId: $teamId, userId: $userId, role: $role) { id } }',
          {
            as,
            variables: { teamId, userId, role },
          },
        );
      expect(errorOf(await setRole(ada, ada.id, 'MEMBER')).extensions.reason).toBe('LAST_MAINTAINER');
      expect(errorOf(await setRole(bob, bob.id, 'MAINTAINER')).code).toBe('FORBIDDEN');
      expect(errorOf(await setRole(ada, eve.id, 'MAINTAINER')).extensions.validationErrors).toEqual([
        { path: '/userId', message: 'is not a member of the team' },
      ]);
      dataOf(await setRole(ada, bob.id, 'MAINTAINER'));
      dataOf(await setRole(ada, bob.id, 'MAINTAINER'));
      dataOf(await setRole(bob, ada.id, 'MEMBER'));
      expect(await membersOf(teamId)).toEqual([
        { user_id: bob.id, role: 'maintainer' },
        { user_id: ada.id, role: 'member' },
      ]);
      const changes = (await auditEventsOf(api, teamId)).filter((e) => e.action === 'team.member_role_changed').map((e) => e.details);
      expect(changes).toEqual([
        { userId: bob.id, from: 'member', to: 'maintainer' },
        { userId: ada.id, from: 'maintainer', to: 'member' },
      ]);
    });

    it('lets members leave, but not the last maintainer; a non-member leaving is NOT_FOUND as for a random id', async () => {
      const [ada, bob, eve] = await Promise.all([api.user('ada'), api.user('bob'), api.user('eve')]);
      const teamId = await createTeam(ada);
      dataOf(await addMembers(ada, teamId, [bob.id]));
      const leave = (as: TestUser, id: string) => api.graphql('mutation($id: ID!) { leaveTeam(teamId: $id) }', { as, variables: { id } });
      expect(dataOf(await leave(bob, teamId)).leaveTeam).toBe(teamId);
      const again = await leave(bob, teamId);
      expect(errorOf(again).code).toBe('NOT_FOUND');
      expect(again).toEqual(await leave(bob, randomUUID()));
      expect(errorOf(await leave(eve, teamId)).code).toBe('NOT_FOUND');
      const last = errorOf(await leave(ada, teamId));
      expect(last).toMatchObject({ code: 'CONFLICT', extensions: { reason: 'LAST_MAINTAINER' } });
      expect(await membersOf(teamId)).toEqual([{ user_id: ada.id, role: 'maintainer' }]);
      const removed = (await auditEventsOf(api, teamId)).filter((e) => e.action === 'team.members_removed');
      expect(removed.map((e) => [e.actorId, e.details])).toEqual([[bob.id, { userIds: [bob.id] }]]);
    });
  });

  describe('deleteTeam', () => {
    it('deletes a team with its members and template shares for a maintainer; FORBIDDEN for a member', async () => {
      const [ada, bob] = await Promise.all([api.user('ada'), api.user('bob')]);
      const teamId = await createTeam(ada, 'Doomed');
      dataOf(await addMembers(ada, teamId, [bob.id]));
      const createTemplate = await createTemplateViaApi(api, ada);
      dataOf(
        await api.graphql('mutation($id: ID!, $teamIds: [ID!]!) { shareTemplateWithTeams(id: $id, teamIds: $teamIds) { id } }', {
          as: ada,
          variables: { id: createTemplate.id, teamIds: [teamId] },
        }),
      );
      const remove = (as: TestUser) => api.graphql('mutation($id: ID!) { deleteTeam(teamId: $id) }', { as, variables: { id: teamId } });
      expect(errorOf(await remove(bob)).code).toBe('FORBIDDEN');
      expect(dataOf(await remove(ada)).deleteTeam).toBe(teamId);
      expect(await api.db.query('select 1 from teams where id = $1', [teamId])).toEqual([]);
      expect(await membersOf(teamId)).toEqual([]);
      expect(await api.db.query('select 1 from experiment_template_team_shares where team_id = $1', [teamId])).toEqual([]);
      const events = await auditEventsOf(api, teamId);
      expect(events.at(-1)).toMatchObject({ action: 'team.deleted', actorId: ada.id, details: { name: 'Doomed', memberCount: 2 } });
      expect(errorOf(await remove(ada)).code).toBe('NOT_FOUND');
    });
  });

  describe('staff', () => {
    it('manage any team, each action recorded as staff’s; the last-maintainer rule holds for them too', async () => {
      const [ada, bob, staff] = await Promise.all([api.user('ada'), api.user('bob'), api.user('staff', ['admin'])]);
      const teamId = await createTeam(ada, 'Orphaned');
      const asStaff = (query: string, variables: Record<string, unknown>) =>
        api.graphql(query, { as: staff, variables: { teamId, ...variables } });
      dataOf(
        await asStaff('mutation($teamId: ID!, $name: String!) { renameTeam(teamId: $teamId, name: $name) { id } }', { name: 'Adopted' }),
      );
      dataOf(await addMembers(staff, teamId, [bob.id]));
      dataOf(
        await asStaff(
          'mutation($teamId: ID!, $userId: ID!) { setTeamMemberRole(teamId: $teamId, userId: $userId, role: MAINTAINER) { id } }',
          {
            userId: bob.id,
          },
        ),
      );
      dataOf(
        await asStaff('mutation($teamId: ID!, $userIds: [ID!]!) { removeTeamMembers(teamId: $teamId, userIds: $userIds) { id } }', {
          userIds: [ada.id],
        }),
      );
      const last = await asStaff(
        'mutation($teamId: ID!, $userIds: [ID!]!) { removeTeamMembers(teamId: $teamId, userIds: $userIds) { id } }',
        {
          userIds: [bob.id],
        },
      );
      expect(errorOf(last).extensions.reason).toBe('LAST_MAINTAINER');
      dataOf(
        await asStaff(
          'mutation($teamId: ID!, $externalId: String) { setTeamExternalId(teamId: $teamId, externalId: $externalId) { id } }',
          { externalId: 'grp-orphaned' },
        ),
      );
      dataOf(await asStaff('mutation($teamId: ID!) { deleteTeam(teamId: $teamId) }', {}));
      const events = await auditEventsOf(api, teamId);
      expect(events.map((e) => [e.action, e.actorKind])).toEqual([
        ['team.created', 'user'],
        ['team.renamed', 'staff'],
        ['team.members_added', 'staff'],
        ['team.member_role_changed', 'staff'],
        ['team.members_removed', 'staff'],
        ['team.external_id_changed', 'staff'],
        ['team.deleted', 'staff'],
      ]);
      expect(events.slice(1).every((e) => e.actorId === staff.id)).toBe(true);
    });

    it('alone set external ids, each naming at most one team', async () => {
      const [ada, staff] = await Promise.all([api.user('ada'), api.user('staff', ['admin'])]);
      const [first, second] = [await createTeam(ada), await createTeam(ada)];
      const set = (as: TestUser, teamId: string, externalId: string | null) =>
        api.graphql(
          'mutation($teamId: ID!, $externalId: String) { setTeamExternalId(teamId: $teamId, externalId: $externalId) { id externalId } }',
          {
            as,
            variables: { teamId, externalId },
          },
        );
      const group = `grp-${randomUUID()}`;
      expect(errorOf(await set(ada, first, group)).code).toBe('FORBIDDEN');
      expect(dataOf(await set(staff, first, group)).setTeamExternalId).toEqual({ id: first, externalId: group });
      const taken = errorOf(await set(staff, second, group));
      expect(taken).toMatchObject({ code: 'CONFLICT', extensions: { reason: 'EXTERNAL_ID_TAKEN', teamId: first } });
      expect(errorOf(await set(staff, second, ' ')).extensions.validationErrors[0].path).toBe('/externalId');
      expect(dataOf(await set(staff, first, null)).setTeamExternalId).toEqual({ id: first, externalId: null });
      expect(dataOf(await set(staff, second, group)).setTeamExternalId).toEqual({ id: second, externalId: group });
      expect(errorOf(await set(staff, randomUUID(), 'x')).code).toBe('NOT_FOUND');
    });
  });
});
