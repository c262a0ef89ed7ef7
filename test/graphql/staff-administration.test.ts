import { randomUUID } from 'node:crypto';
import { dataOf, errorOf, newUser, TEST_JWT_SECRET, useApi, type GraphqlResponse } from '../support/api';
import { auditEventsOf, insertExperiments, insertTemplates, listIds, uniqueTag, type TestUser } from '../support/factories';

/**
 * Staff (a token whose roles claim holds the staff role) find any template and act on it over real HTTP: every change
 * is theirs in the versions and the audit trail, marked as staff's. The cells of who may do what are in
 * access-matrix.test.ts; this file checks what each staff operation does, and its refusals.
 */

const TEMPLATE = `query($id: ID!) {
  template(id: $id) { id name isActive isPublic version owner { id } sharedWith { id } auditTrail { totalCount } }
}`;
const UPDATE = `mutation($id: ID!, $input: UpdateTemplateInput!) {
  updateTemplate(id: $id, input: $input, changeNote: "Taken down: leaked credentials") {
    id name version versions(first: 1) { version changeNote createdBy { id } }
  }
}`;
const REVERT = 'mutation($id: ID!, $toVersion: Int!) { revertTemplate(id: $id, toVersion: $toVersion) { id name version } }';
const DEACTIVATE = 'mutation($id: ID!) { deactivateTemplate(id: $id) { id isActive } }';
const REACTIVATE = 'mutation($id: ID!) { reactivateTemplate(id: $id) { id isActive } }';
const SET_PUBLIC = 'mutation($id: ID!, $isPublic: Boolean!) { setTemplatePublic(id: $id, isPublic: $isPublic) { id isPublic } }';
const SHARE = 'mutation($id: ID!, $userIds: [ID!]!) { shareTemplate(id: $id, userIds: $userIds) { id sharedWith { id } } }';
const UNSHARE = 'mutation($id: ID!, $userIds: [ID!]!) { unshareTemplate(id: $id, userIds: $userIds) { id sharedWith { id } } }';
const DELETE = 'mutation($id: ID!) { deleteTemplate(id: $id) }';
const TRANSFER = `mutation($id: ID!, $toUserId: ID!) {
  transferTemplate(id: $id, toUserId: $toUserId) { id version owner { id } sharedWith { id } }
}`;
const AUDIT_EVENTS = `query($filter: AuditEventFilter) {
  auditEvents(filter: $filter, first: 10) { edges { node { action actorKind actor { id } details } } }
}`;

describe('staff administration over HTTP', () => {
  const api = useApi();
  let owner: TestUser;
  let friend: TestUser;
  let stranger: TestUser;
  let staff: TestUser;
  let heir: TestUser;

  beforeAll(async () => {
    [owner, friend, stranger, staff, heir] = await Promise.all([
      api.user('owner'),
      api.user('friend'),
      api.user('stranger'),
      api.user('staff', ['admin']),
      api.user('heir'),
    ]);
  });

  /** A private template of the owner's at version 2, shared with the friend unless told otherwise. */
  async function privateTemplate(overrides: { isActive?: boolean; sharedWith?: string[]; name?: string; tags?: string[] } = {}) {
    const [id] = await insertTemplates(api, [
      {
        ownerId: owner.id,
        name: overrides.name ?? `Private ${randomUUID().slice(0, 8)}`,
        version: 2,
        isActive: overrides.isActive ?? true,
        sharedWith: overrides.sharedWith ?? [friend.id],
        tags: overrides.tags,
      },
    ]);
    return id;
  }

  const send = (as: TestUser | null, query: string, variables: Record<string, unknown>) => api.graphql(query, { as, variables });

  /** A subject's events as the audit trail keeps them, oldest first, without ids and times. */
  async function eventsOf(subjectId: string) {
    return (await auditEventsOf(api, subjectId)).map(({ action, actorId, actorKind, details }) => ({
      action,
      actorId,
      actorKind,
      details,
    }));
  }

  /** What a caller gets for an operation on a template nobody has: the answer a hidden one must give too. */
  async function expectSameAsUnknownId(as: TestUser | null, query: string, variables: Record<string, unknown>) {
    const hidden = await send(as, query, variables);
    const unknown = await send(as, query, { ...variables, id: randomUUID() });
    expect(hidden).toEqual(unknown);
    return hidden;
  }

  describe('finding templates', () => {
    it("reads anyone's private template by id, with its shares and audit trail; others get what an unknown id gets", async () => {
      const id = await privateTemplate();
      expect(dataOf(await send(staff, TEMPLATE, { id })).template).toEqual({
        id,
        name: expect.stringMatching(/^Private /),
        isActive: true,
        isPublic: false,
        version: 2,
        owner: { id: owner.id },
        sharedWith: [{ id: friend.id }],
        auditTrail: { totalCount: 0 },
      });
      expect((await expectSameAsUnknownId(stranger, TEMPLATE, { id })).body).toEqual({ data: { template: null } });
    });

    it('lists every template with scope EVERYONE: any owner, private and deactivated, by owner and by text', async () => {
      const tag = uniqueTag('staff');
      const name = `Needle ${randomUUID().slice(0, 8)}`;
      const active = await privateTemplate({ tags: [tag], name });
      const inactive = await privateTemplate({ tags: [tag], isActive: false });
      const [others] = await insertTemplates(api, [{ ownerId: stranger.id, tags: [tag] }]);
      const everyone = (filter: Record<string, unknown>) =>
        listIds(api, staff, { filter: { scope: 'EVERYONE', tags: { allOf: [tag] }, ...filter }, orderBy: { field: 'NAME' } });

      expect(new Set((await everyone({ activeState: 'ALL' })).ids)).toEqual(new Set([active, inactive, others]));
      expect((await everyone({})).ids.sort()).toEqual([active, others].sort());
      expect((await everyone({ activeState: 'INACTIVE' })).ids).toEqual([inactive]);
      expect((await everyone({ activeState: 'ALL', ownerId: stranger.id })).ids).toEqual([others]);
      expect((await everyone({ activeState: 'ALL', ownerId: owner.id })).totalCount).toBe(2);
      expect((await listIds(api, staff, { filter: { scope: 'EVERYONE', search: name.toLowerCase() } })).ids).toEqual([active]);
    });

    it("keeps staff's own view their own: ALL_VISIBLE lists their own, shared and public templates only", async () => {
      const tag = uniqueTag('own-view');
      await privateTemplate({ tags: [tag] });
      const [shared, published] = await insertTemplates(api, [
        { ownerId: owner.id, tags: [tag], sharedWith: [staff.id] },
        { ownerId: owner.id, tags: [tag], isPublic: true },
      ]);
      const { ids } = await listIds(api, staff, { filter: { tags: { allOf: [tag] }, activeState: 'ALL' } });
      expect(ids.sort()).toEqual([shared, published].sort());
    });

    it('refuses scope EVERYONE to anyone but staff, at the argument', async () => {
      const query = 'query($filter: TemplateFilter) { templates(filter: $filter) { totalCount } }';
      const variables = { filter: { scope: 'EVERYONE' } };
      const refused = errorOf(await send(stranger, query, variables));
      expect(refused).toMatchObject({ code: 'FORBIDDEN', extensions: { path: '/filter/scope' } });
      expect(errorOf(await send(null, query, variables)).code).toBe('UNAUTHENTICATED');
    });

    it("filters anyone's listing by owner within what they see; a malformed owner id is refused at its path", async () => {
      const tag = uniqueTag('by-owner');
      await privateTemplate({ tags: [tag], sharedWith: [] });
      const [published] = await insertTemplates(api, [{ ownerId: owner.id, tags: [tag], isPublic: true }]);
      const filter = (ownerId: string) => ({ filter: { tags: { allOf: [tag] }, ownerId } });
      expect((await listIds(api, stranger, filter(owner.id))).ids).toEqual([published]);
      expect((await listIds(api, stranger, filter(randomUUID()))).ids).toEqual([]);
      const malformed = errorOf(
        await send(stranger, 'query($filter: TemplateFilter) { templates(filter: $filter) { totalCount } }', filter('ada')),
      );
      expect(malformed).toMatchObject({
        code: 'BAD_USER_INPUT',
        extensions: { validationErrors: [{ path: '/filter/ownerId', message: 'must be a user id (UUID)' }] },
      });
    });
  });

  describe('acting on templates', () => {
    it("changes anyone's content as a new version under the staff member's name, audited as staff", async () => {
      const id = await privateTemplate();
      const { updateTemplate } = dataOf(await send(staff, UPDATE, { id, input: { name: 'Taken down' } }));
      expect(updateTemplate).toEqual({
        id,
        name: 'Taken down',
        version: 3,
        versions: [{ version: 3, changeNote: 'Taken down: leaked credentials', createdBy: { id: staff.id } }],
      });
      expect(dataOf(await send(staff, REVERT, { id, toVersion: 2 })).revertTemplate).toMatchObject({ version: 4 });
      const [, , updated] = await api.db.query<{ created_by: string }>(
        'select created_by from experiment_template_versions where template_id = $1 order by version',
        [id],
      );
      expect(updated.created_by).toBe(staff.id);
      expect(await eventsOf(id)).toEqual([
        {
          action: 'template.updated',
          actorId: staff.id,
          actorKind: 'staff',
          details: { fromVersion: 2, toVersion: 3, changed: ['name'] },
        },
        {
          action: 'template.reverted',
          actorId: staff.id,
          actorKind: 'staff',
          details: { fromVersion: 3, toVersion: 4, changed: ['name'], restoredVersion: 2 },
        },
      ]);
      // The owner still owns it.
      expect(dataOf(await send(owner, TEMPLATE, { id })).template.owner).toEqual({ id: owner.id });
    });

    it("deactivates, reactivates and publishes anyone's template, each audited as staff", async () => {
      const id = await privateTemplate();
      expect(dataOf(await send(staff, DEACTIVATE, { id })).deactivateTemplate).toEqual({ id, isActive: false });
      expect(dataOf(await send(staff, REACTIVATE, { id })).reactivateTemplate).toEqual({ id, isActive: true });
      expect(dataOf(await send(staff, SET_PUBLIC, { id, isPublic: true })).setTemplatePublic).toEqual({ id, isPublic: true });
      expect(dataOf(await send(staff, SET_PUBLIC, { id, isPublic: false })).setTemplatePublic).toEqual({ id, isPublic: false });
      const staffEvent = (action: string) => ({ action, actorId: staff.id, actorKind: 'staff', details: {} });
      expect(await eventsOf(id)).toEqual([
        staffEvent('template.deactivated'),
        staffEvent('template.reactivated'),
        staffEvent('template.published'),
        staffEvent('template.unpublished'),
      ]);
    });

    it("shares and unshares anyone's template, passing over its owner, and sees who has it", async () => {
      const id = await privateTemplate();
      const shared = dataOf(await send(staff, SHARE, { id, userIds: [owner.id, stranger.id] })).shareTemplate;
      expect(shared.sharedWith).toEqual([{ id: friend.id }, { id: stranger.id }]);
      const [share] = await api.db.query<{ shared_by: string }>(
        'select shared_by from experiment_template_shares where template_id = $1 and user_id = $2',
        [id, stranger.id],
      );
      expect(share.shared_by).toBe(staff.id);
      expect(dataOf(await send(staff, UNSHARE, { id, userIds: [friend.id] })).unshareTemplate.sharedWith).toEqual([{ id: stranger.id }]);
      expect(await eventsOf(id)).toEqual([
        { action: 'template.shared', actorId: staff.id, actorKind: 'staff', details: { userIds: [stranger.id] } },
        { action: 'template.unshared', actorId: staff.id, actorKind: 'staff', details: { userIds: [friend.id] } },
      ]);
    });

    it("deletes anyone's template; the deletion is audited as staff", async () => {
      const id = await privateTemplate();
      expect(dataOf(await send(staff, DELETE, { id })).deleteTemplate).toBe(id);
      expect(await api.db.query('select id from experiment_templates where id = $1', [id])).toEqual([]);
      expect(await eventsOf(id)).toEqual([
        { action: 'template.deleted', actorId: staff.id, actorKind: 'staff', details: { name: expect.any(String), version: 2 } },
      ]);
    });

    it('lets no one else do any of it: a hidden template answers as an unknown id, a visible one FORBIDDEN, and nothing is written', async () => {
      const id = await privateTemplate();
      const attempts: Array<[string, Record<string, unknown>]> = [
        [UPDATE, { id, input: { name: 'Not yours' } }],
        [REVERT, { id, toVersion: 1 }],
        [DEACTIVATE, { id }],
        [SET_PUBLIC, { id, isPublic: true }],
        [SHARE, { id, userIds: [stranger.id] }],
        [UNSHARE, { id, userIds: [friend.id] }],
        [TRANSFER, { id, toUserId: stranger.id }],
        [DELETE, { id }],
      ];
      for (const [query, variables] of attempts) {
        expect(errorOf(await expectSameAsUnknownId(stranger, query, variables)).code).toBe('NOT_FOUND');
        expect(errorOf(await send(friend, query, variables)).code).toBe('FORBIDDEN');
      }
      expect(dataOf(await send(owner, TEMPLATE, { id })).template).toMatchObject({ version: 2, isActive: true, owner: { id: owner.id } });
      expect(await eventsOf(id)).toEqual([]);
    });
  });

  describe('transferTemplate', () => {
    it('gives a template to another user: their share goes, the old owner loses it, other shares and experiments stay', async () => {
      const id = await privateTemplate({ sharedWith: [friend.id, heir.id] });
      const [experiment] = await insertExperiments(api, [{ ownerId: owner.id, templateId: id }]);
      const { transferTemplate } = dataOf(await send(owner, TRANSFER, { id, toUserId: heir.id }));
      expect(transferTemplate).toEqual({ id, version: 2, owner: { id: heir.id }, sharedWith: [] });
      expect(dataOf(await send(heir, TEMPLATE, { id })).template).toMatchObject({
        owner: { id: heir.id },
        sharedWith: [{ id: friend.id }],
      });
      expect((await send(owner, TEMPLATE, { id })).body).toEqual({ data: { template: null } });
      expect(errorOf(await send(owner, DEACTIVATE, { id })).code).toBe('NOT_FOUND');
      expect(dataOf(await send(heir, DEACTIVATE, { id })).deactivateTemplate.isActive).toBe(false);
      const [row] = await api.db.query('select owner_id, template_id from ml_experiments where id = $1', [experiment]);
      expect(row).toEqual({ owner_id: owner.id, template_id: id });
      expect((await eventsOf(id))[0]).toEqual({
        action: 'template.transferred',
        actorId: owner.id,
        actorKind: 'user',
        details: { from: owner.id, to: heir.id },
      });
    });

    it("lets staff transfer anyone's template, audited as staff and readable in auditEvents", async () => {
      const id = await privateTemplate({ isActive: false });
      expect(dataOf(await send(staff, TRANSFER, { id, toUserId: heir.id })).transferTemplate.owner).toEqual({ id: heir.id });
      const { auditEvents } = dataOf(await send(staff, AUDIT_EVENTS, { filter: { subjectId: id } }));
      expect(auditEvents.edges).toEqual([
        { node: { action: 'TEMPLATE_TRANSFERRED', actorKind: 'STAFF', actor: { id: staff.id }, details: { from: owner.id, to: heir.id } } },
      ]);
    });

    it('answers NOT_FOUND at /toUserId for a user that does not exist, and writes nothing', async () => {
      const id = await privateTemplate();
      for (const toUserId of [randomUUID(), 'not-a-user']) {
        const error = errorOf(await send(staff, TRANSFER, { id, toUserId }));
        expect(error).toMatchObject({ code: 'NOT_FOUND', message: 'User not found', extensions: { path: '/toUserId' } });
      }
      expect(dataOf(await send(owner, TEMPLATE, { id })).template.owner).toEqual({ id: owner.id });
      expect(await eventsOf(id)).toEqual([]);
    });

    it('changes nothing when given to its owner', async () => {
      const id = await privateTemplate();
      const [before] = await api.db.query('select updated_at from experiment_templates where id = $1', [id]);
      expect(dataOf(await send(staff, TRANSFER, { id, toUserId: owner.id })).transferTemplate.owner).toEqual({ id: owner.id });
      expect(await api.db.query('select updated_at from experiment_templates where id = $1', [id])).toEqual([before]);
      expect(await eventsOf(id)).toEqual([]);
    });

    it('needs a caller', async () => {
      const id = await privateTemplate();
      expect(errorOf(await send(null, TRANSFER, { id, toUserId: heir.id })).code).toBe('UNAUTHENTICATED');
    });
  });
});

describe('staff from a configured roles claim and value', () => {
  const api = useApi({ env: { ROLES_CLAIM: 'groups', STAFF_ROLE: 'tessera-staff' } });
  const EVERYONE = 'query { templates(filter: { scope: EVERYONE }) { totalCount } }';

  async function userWith(claim: string, roles: string[]): Promise<TestUser> {
    return newUser((query, options) => api.graphql(query, options), { secret: TEST_JWT_SECRET, rolesClaim: claim }, 'roles', roles);
  }

  const outcome = (response: GraphqlResponse) => (response.body.errors ? errorOf(response).code : 'OK');

  it('makes staff of a token holding STAFF_ROLE under ROLES_CLAIM, and of no other', async () => {
    const configured = await userWith('groups', ['tessera-staff']);
    expect(outcome(await api.graphql(EVERYONE, { as: configured }))).toBe('OK');
    const owner = await api.user('owner');
    const [id] = await insertTemplates(api, [{ ownerId: owner.id }]);
    expect(
      dataOf(await api.graphql('mutation($id: ID!) { deactivateTemplate(id: $id) { isActive } }', { as: configured, variables: { id } })),
    ).toEqual({ deactivateTemplate: { isActive: false } });

    // The defaults mean nothing once others are configured.
    for (const [claim, roles] of [
      ['roles', ['admin']],
      ['roles', ['tessera-staff']],
      ['groups', ['admin']],
    ] as const) {
      expect(outcome(await api.graphql(EVERYONE, { as: await userWith(claim, [...roles]) }))).toBe('FORBIDDEN');
    }
  });
});
