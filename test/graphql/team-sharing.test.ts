import { randomUUID } from 'node:crypto';
import { dataOf, errorOf, useApi } from '../support/api';
import { auditEventsOf, createTemplateViaApi, insertTemplates, listIds, uniqueTag, type TestUser } from '../support/factories';

const SHARE =
  'mutation($id: ID!, $teamIds: [ID!]!) { shareTemplateWithTeams(id: $id, teamIds: $teamIds) { id sharedWithTeams { id name } } }';
const UNSHARE =
  'mutation($id: ID!, $teamIds: [ID!]!) { unshareTemplateFromTeams(id: $id, teamIds: $teamIds) { id sharedWithTeams { id } } }';

describe('templates shared with teams', () => {
  const api = useApi();

  async function teamWith(maintainer: TestUser, members: TestUser[], name = 'Team'): Promise<string> {
    const { createTeam } = dataOf(
      await api.graphql('mutation($name: String!) { createTeam(name: $name) { id } }', { as: maintainer, variables: { name } }),
    );
    if (members.length > 0) {
      dataOf(
        await api.graphql('mutation($teamId: ID!, $userIds: [ID!]) { addTeamMembers(teamId: $teamId, userIds: $userIds) { id } }', {
          as: maintainer,
          variables: { teamId: createTeam.id, userIds: members.map((m) => m.id) },
        }),
      );
    }
    return createTeam.id;
  }

  const templateAs = (as: TestUser | null, id: string) =>
    api.graphql('query($id: ID!) { template(id: $id) { id name sharedWith { id } sharedWithTeams { id } } }', { as, variables: { id } });

  it('shows a template to the current members of its teams, and to nobody else; a removed member loses it on the next request', async () => {
    const [owner, member, other, stranger] = await Promise.all([
      api.user('owner'),
      api.user('member'),
      api.user('other'),
      api.user('stranger'),
    ]);
    const teamId = await teamWith(owner, [member, other], 'Risk');
    const tag = uniqueTag();
    const template = await createTemplateViaApi(api, owner, { tags: [tag] });
    expect((await templateAs(member, template.id)).body).toEqual({ data: { template: null } });

    const shared = dataOf(await api.graphql(SHARE, { as: owner, variables: { id: template.id, teamIds: [teamId, teamId.toUpperCase()] } }));
    expect(shared.shareTemplateWithTeams).toEqual({ id: template.id, sharedWithTeams: [{ id: teamId, name: 'Risk' }] });

    // Members see it, by id and in listings (SHARED_WITH_ME included); they do not see whom it is shared with.
    expect(dataOf(await templateAs(member, template.id)).template).toEqual({
      id: template.id,
      name: template.name,
      sharedWith: [],
      sharedWithTeams: [],
    });
    for (const scope of ['ALL_VISIBLE', 'SHARED_WITH_ME']) {
      expect((await listIds(api, member, { filter: { tags: { allOf: [tag] }, scope } })).ids).toEqual([template.id]);
    }
    // The owner's own template shared with their own team is theirs, not shared with them.
    expect((await listIds(api, owner, { filter: { tags: { allOf: [tag] }, scope: 'SHARED_WITH_ME' } })).ids).toEqual([]);
    expect((await listIds(api, owner, { filter: { tags: { allOf: [tag] }, scope: 'MINE' } })).ids).toEqual([template.id]);

    const hidden = await templateAs(stranger, template.id);
    expect(hidden).toEqual(await templateAs(stranger, randomUUID()));
    expect((await listIds(api, stranger, { filter: { tags: { allOf: [tag] } } })).ids).toEqual([]);

    // Removed: gone with the very next request.
    dataOf(
      await api.graphql('mutation($teamId: ID!, $userIds: [ID!]!) { removeTeamMembers(teamId: $teamId, userIds: $userIds) { id } }', {
        as: owner,
        variables: { teamId, userIds: [member.id] },
      }),
    );
    expect((await templateAs(member, template.id)).body).toEqual({ data: { template: null } });
    expect((await listIds(api, member, { filter: { tags: { allOf: [tag] }, scope: 'SHARED_WITH_ME' } })).ids).toEqual([]);
    // Leaving does the same.
    dataOf(await api.graphql('mutation($id: ID!) { leaveTeam(teamId: $id) }', { as: other, variables: { id: teamId } }));
    expect((await templateAs(other, template.id)).body).toEqual({ data: { template: null } });

    expect((await auditEventsOf(api, template.id)).map((e) => [e.action, e.details])).toEqual([
      ['template.created', expect.anything()],
      ['template.shared', { teamIds: [teamId] }],
    ]);
  });

  it('lets members use and clone it, not change it', async () => {
    const [owner, member] = await Promise.all([api.user('owner'), api.user('member')]);
    const teamId = await teamWith(owner, [member]);
    const template = await createTemplateViaApi(api, owner);
    dataOf(await api.graphql(SHARE, { as: owner, variables: { id: template.id, teamIds: [teamId] } }));
    const clone = dataOf(
      await api.graphql('mutation($id: ID!) { cloneTemplate(id: $id) { owner { id } } }', { as: member, variables: { id: template.id } }),
    );
    expect(clone.cloneTemplate.owner.id).toBe(member.id);
    const update = await api.graphql('mutation($id: ID!) { updateTemplate(id: $id, input: { name: "Mine now" }) { id } }', {
      as: member,
      variables: { id: template.id },
    });
    expect(errorOf(update).code).toBe('FORBIDDEN');
    expect(errorOf(await api.graphql(SHARE, { as: member, variables: { id: template.id, teamIds: [teamId] } })).code).toBe('FORBIDDEN');
  });

  it('shares only with teams the owner may see: any other is "no such team" at its path, as a random id', async () => {
    const [owner, outsider, staffOwner] = await Promise.all([api.user('owner'), api.user('outsider'), api.user('staff', ['admin'])]);
    const mine = await teamWith(owner, []);
    const theirs = await teamWith(outsider, []);
    const template = await createTemplateViaApi(api, owner);
    const share = (teamIds: string[]) => api.graphql(SHARE, { as: owner, variables: { id: template.id, teamIds } });

    const hidden = await share([mine, theirs]);
    expect(errorOf(hidden).extensions.validationErrors).toEqual([{ path: '/teamIds/1', message: 'no such team' }]);
    expect(hidden).toEqual(await share([mine, randomUUID()]));
    expect(errorOf(await share(['x'])).extensions.validationErrors).toEqual([{ path: '/teamIds/0', message: 'must be a team id (UUID)' }]);
    expect(errorOf(await share([])).extensions.validationErrors).toEqual([{ path: '/teamIds', message: 'must list at least one team' }]);
    expect(await api.db.query('select 1 from experiment_template_team_shares where template_id = $1', [template.id])).toEqual([]);

    // Staff see every team, so they may share their own templates with any.
    const staffTemplate = await createTemplateViaApi(api, staffOwner);
    const byStaff = await api.graphql(SHARE, { as: staffOwner, variables: { id: staffTemplate.id, teamIds: [theirs] } });
    expect(dataOf(byStaff).shareTemplateWithTeams.sharedWithTeams).toEqual([{ id: theirs, name: 'Team' }]);
  });

  it('unshares, with one event for what changed; a hidden template is NOT_FOUND as a random id', async () => {
    const [owner, member, stranger] = await Promise.all([api.user('owner'), api.user('member'), api.user('stranger')]);
    const [first, second] = [await teamWith(owner, [member], 'A'), await teamWith(owner, [], 'B')];
    const template = await createTemplateViaApi(api, owner);
    dataOf(await api.graphql(SHARE, { as: owner, variables: { id: template.id, teamIds: [first, second] } }));
    dataOf(await api.graphql(SHARE, { as: owner, variables: { id: template.id, teamIds: [second] } }));
    const unshared = dataOf(await api.graphql(UNSHARE, { as: owner, variables: { id: template.id, teamIds: [first, randomUUID()] } }));
    expect(unshared.unshareTemplateFromTeams.sharedWithTeams).toEqual([{ id: second }]);
    dataOf(await api.graphql(UNSHARE, { as: owner, variables: { id: template.id, teamIds: [first] } }));
    expect((await templateAs(member, template.id)).body).toEqual({ data: { template: null } });

    const hidden = await api.graphql(UNSHARE, { as: stranger, variables: { id: template.id, teamIds: [first] } });
    expect(errorOf(hidden).code).toBe('NOT_FOUND');
    expect(hidden).toEqual(await api.graphql(UNSHARE, { as: stranger, variables: { id: randomUUID(), teamIds: [first] } }));
    const events = (await auditEventsOf(api, template.id)).filter((e) => e.action !== 'template.created');
    expect(events.map((e) => [e.action, e.details])).toEqual([
      ['template.shared', { teamIds: [first, second] }],
      ['template.unshared', { teamIds: [first] }],
    ]);
  });

  it('lets staff share anyone’s template with any team, see its teams and take them back, each change audited as staff', async () => {
    const [owner, member, outsider, staff] = await Promise.all([
      api.user('owner'),
      api.user('member'),
      api.user('outsider'),
      api.user('staff', ['admin']),
    ]);
    // A team the owner is not in: staff may share with any team, as they see every team (the owner may not).
    const teamId = await teamWith(outsider, [member]);
    const template = await createTemplateViaApi(api, owner);
    expect(
      errorOf(await api.graphql(SHARE, { as: owner, variables: { id: template.id, teamIds: [teamId] } })).extensions.validationErrors,
    ).toEqual([{ path: '/teamIds/0', message: 'no such team' }]);

    const shared = dataOf(await api.graphql(SHARE, { as: staff, variables: { id: template.id, teamIds: [teamId] } }));
    expect(shared.shareTemplateWithTeams).toEqual({ id: template.id, sharedWithTeams: [{ id: teamId, name: 'Team' }] });
    expect(dataOf(await templateAs(member, template.id)).template.id).toBe(template.id);
    // The owner and staff see which teams have it; its members do not.
    expect(dataOf(await templateAs(owner, template.id)).template.sharedWithTeams).toEqual([{ id: teamId }]);
    expect(dataOf(await templateAs(staff, template.id)).template.sharedWithTeams).toEqual([{ id: teamId }]);
    expect(dataOf(await templateAs(member, template.id)).template.sharedWithTeams).toEqual([]);
    const [share] = await api.db.query('select shared_by from experiment_template_team_shares where template_id = $1', [template.id]);
    expect(share).toEqual({ shared_by: staff.id });

    const unshared = dataOf(await api.graphql(UNSHARE, { as: staff, variables: { id: template.id, teamIds: [teamId] } }));
    expect(unshared.unshareTemplateFromTeams).toEqual({ id: template.id, sharedWithTeams: [] });
    expect((await templateAs(member, template.id)).body).toEqual({ data: { template: null } });
    const events = (await auditEventsOf(api, template.id)).filter((e) => e.action !== 'template.created');
    expect(events.map((e) => [e.action, e.actorId, e.actorKind, e.details])).toEqual([
      ['template.shared', staff.id, 'staff', { teamIds: [teamId] }],
      ['template.unshared', staff.id, 'staff', { teamIds: [teamId] }],
    ]);
  });

  it('keeps sharedWithTeams to the owner (and staff), and a team’s members to its members even when its owner left it', async () => {
    const [owner, member, maintainer] = await Promise.all([api.user('owner'), api.user('member'), api.user('maintainer')]);
    const teamId = await teamWith(maintainer, [owner, member]);
    const template = await createTemplateViaApi(api, owner);
    dataOf(await api.graphql(SHARE, { as: owner, variables: { id: template.id, teamIds: [teamId] } }));
    dataOf(await api.graphql('mutation($id: ID!) { leaveTeam(teamId: $id) }', { as: owner, variables: { id: teamId } }));

    const query = 'query($id: ID!) { template(id: $id) { sharedWithTeams { id members { user { id } } } } }';
    const asOwner = dataOf(await api.graphql(query, { as: owner, variables: { id: template.id } }));
    expect(asOwner.template.sharedWithTeams).toEqual([{ id: teamId, members: [] }]);
    const asMember = dataOf(await api.graphql(query, { as: member, variables: { id: template.id } }));
    expect(asMember.template.sharedWithTeams).toEqual([]);
  });

  it('costs the same number of statements for a page of 1, 20 and 60 templates with their teams and members', async () => {
    const [owner, ...others] = await Promise.all(['owner', 'a', 'b', 'c'].map((name) => api.user(name)));
    const teams = [await teamWith(owner, others.slice(0, 2), 'One'), await teamWith(owner, others.slice(1), 'Two')];
    const tag = uniqueTag();
    const ids = await insertTemplates(
      api,
      Array.from({ length: 70 }, () => ({ ownerId: owner.id, tags: [tag] })),
    );
    await api.db.query(
      `insert into experiment_template_team_shares (template_id, team_id, shared_by)
       select t.id, team.id, $3 from unnest($1::uuid[]) as t(id), unnest($2::uuid[]) as team(id)`,
      [ids, teams, owner.id],
    );
    const page = `query($first: Int!, $filter: TemplateFilter) {
      templates(first: $first, filter: $filter) {
        edges { node { id sharedWithTeams { id name members { role user { id } } } } }
      }
      myTeams { id members { user { id } } }
    }`;
    const counts: number[] = [];
    // 60, not 100: nested unpaged lists are weighed ten items each, and 100 would pass the query cost limit.
    for (const first of [1, 20, 60]) {
      const { result, statements } = await api.countStatements(() =>
        api.graphql(page, { as: owner, variables: { first, filter: { tags: { allOf: [tag] } } } }),
      );
      const { templates } = dataOf(result);
      expect(templates.edges).toHaveLength(first);
      for (const { node } of templates.edges) {
        expect(node.sharedWithTeams.map((team: { id: string }) => team.id).sort()).toEqual([...teams].sort());
        expect(node.sharedWithTeams.every((team: { members: unknown[] }) => team.members.length === 3)).toBe(true);
      }
      counts.push(statements.length);
    }
    // The page, myTeams, the teams of the page's templates, the members of every team: whatever the page size.
    expect(counts).toEqual([4, 4, 4]);
  });
});
