import { randomUUID } from 'node:crypto';
import { dataOf, errorOf, useApi, type GraphqlResponse } from '../support/api';
import { auditEventsOf, createTemplateViaApi, insertTemplates, uniqueTag, type TestUser } from '../support/factories';

/**
 * Reading the audit trail over real HTTP: `Template.auditTrail` for the owner and staff (anyone else who sees the
 * template gets an empty trail, as `sharedWith` answers them), `auditEvents` for staff only, filters, keyset pages.
 */

const EVENT_FIELDS = 'id action actorKind actor { id email } subjectType subjectId requestId details occurredAt';
const TRAIL = `query($id: ID!, $first: Int, $after: String) {
  template(id: $id) {
    id
    auditTrail(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { ${EVENT_FIELDS} } } }
  }
}`;
const EVENTS = `query($filter: AuditEventFilter, $first: Int, $after: String) {
  auditEvents(filter: $filter, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { cursor node { ${EVENT_FIELDS} } }
  }
}`;
const UPDATE = 'mutation($id: ID!, $input: UpdateTemplateInput!) { updateTemplate(id: $id, input: $input) { id } }';
const SHARE = 'mutation($id: ID!, $userIds: [ID!]!) { shareTemplate(id: $id, userIds: $userIds) { id } }';
const UNSHARE = 'mutation($id: ID!, $userIds: [ID!]!) { unshareTemplate(id: $id, userIds: $userIds) { id } }';
const DELETE = 'mutation($id: ID!) { deleteTemplate(id: $id) }';
const FROM_TEMPLATE = 'mutation($input: CreateExperimentFromTemplateInput!) { createExperimentFromTemplate(input: $input) { id } }';

const EMPTY_TRAIL = { totalCount: 0, pageInfo: { hasNextPage: false, endCursor: null }, edges: [] };

describe('reading the audit trail over HTTP', () => {
  const api = useApi();
  let owner: TestUser;
  let friend: TestUser;
  let stranger: TestUser;
  let staff: TestUser;
  let service: TestUser;

  beforeAll(async () => {
    [owner, friend, stranger, staff, service] = await Promise.all([
      api.user('owner'),
      api.user('friend'),
      api.user('stranger'),
      api.user('staff', ['admin']),
      api.user('analysis-service', ['service']),
    ]);
  });

  const send = (query: string, as: TestUser | null, variables: Record<string, unknown>) => api.graphql(query, { as, variables });
  const actionsOf = (connection: { edges: Array<{ node: { action: string } }> }) => connection.edges.map((edge) => edge.node.action);

  describe('Template.auditTrail', () => {
    let privateId: string;
    let publicId: string;

    beforeAll(async () => {
      privateId = (await createTemplateViaApi(api, owner, { name: 'Private' })).id;
      dataOf(await send(SHARE, owner, { id: privateId, userIds: [friend.id] }));
      dataOf(await send(UPDATE, owner, { id: privateId, input: { description: 'edited' } }));
      publicId = (await createTemplateViaApi(api, owner, { name: 'Public', isPublic: true })).id;
    });

    it('answers the owner with every event, newest first, with the actor and its email', async () => {
      const { auditTrail } = dataOf(await send(TRAIL, owner, { id: privateId })).template;
      const stored = await auditEventsOf(api, privateId);
      expect(auditTrail.totalCount).toBe(3);
      expect(auditTrail.pageInfo.hasNextPage).toBe(false);
      expect(auditTrail.edges.map((edge: { node: unknown }) => edge.node)).toEqual(
        [...stored].reverse().map((event) => ({
          id: event.id,
          action: event.action.toUpperCase().replace('.', '_'),
          actorKind: 'USER',
          actor: { id: owner.id, email: owner.email },
          subjectType: 'TEMPLATE',
          subjectId: privateId,
          requestId: event.requestId,
          details: event.details,
          occurredAt: event.occurredAt.toISOString(),
        })),
      );
      expect(actionsOf(auditTrail)).toEqual(['TEMPLATE_UPDATED', 'TEMPLATE_SHARED', 'TEMPLATE_CREATED']);
    });

    it('answers staff with the trail of any template, private ones too, emails included', async () => {
      const { auditTrail } = dataOf(await send(TRAIL, staff, { id: publicId })).template;
      expect(actionsOf(auditTrail)).toEqual(['TEMPLATE_CREATED']);
      expect(auditTrail.edges[0].node.actor).toEqual({ id: owner.id, email: owner.email });
      const { auditTrail: privateTrail } = dataOf(await send(TRAIL, staff, { id: privateId })).template;
      expect(actionsOf(privateTrail)).toEqual(['TEMPLATE_UPDATED', 'TEMPLATE_SHARED', 'TEMPLATE_CREATED']);
    });

    it.each([
      ['the user it is shared with', 'private', 'friend'],
      ['the user it is shared with', 'public', 'friend'],
      ['a stranger', 'public', 'stranger'],
      ['an anonymous caller', 'public', 'anonymous'],
      ['a service token', 'public', 'service'],
    ] as const)('answers %s an empty trail of a %s template they can see', async (_who, kind, caller) => {
      const as = caller === 'anonymous' ? null : { friend, stranger, service }[caller];
      const id = kind === 'private' ? privateId : publicId;
      expect(dataOf(await send(TRAIL, as, { id })).template).toEqual({ id, auditTrail: EMPTY_TRAIL });
    });

    it.each(['stranger', 'anonymous'] as const)('answers %s about a private template exactly as about a random id', async (caller) => {
      const as = caller === 'anonymous' ? null : { stranger }[caller];
      const hidden = await send(TRAIL, as, { id: privateId });
      expect(hidden.body).toEqual({ data: { template: null } });
      expect(hidden).toEqual(await send(TRAIL, as, { id: randomUUID() }));
    });

    it('checks its arguments for everyone: a page size out of range, a cursor of nothing', async () => {
      for (const as of [owner, stranger]) {
        const tooMany = errorOf(await send(TRAIL, as, { id: publicId, first: 101 }));
        expect(tooMany).toMatchObject({ code: 'BAD_USER_INPUT', extensions: { validationErrors: [{ path: '/first' }] } });
        const garbage = errorOf(await send(TRAIL, as, { id: publicId, after: 'not-a-cursor' }));
        expect(garbage).toMatchObject({ code: 'BAD_USER_INPUT', extensions: { validationErrors: [{ path: '/after' }] } });
      }
    });

    it('reads the trails of a page of templates in a number of statements that does not grow with the page', async () => {
      const tag = uniqueTag('trail');
      const ids = await insertTemplates(
        api,
        Array.from({ length: 12 }, () => ({ ownerId: owner.id, tags: [tag] })),
      );
      for (const id of ids) dataOf(await send(UPDATE, owner, { id, input: { description: `edited ${id}` } }));
      const PAGE = `query($filter: TemplateFilter, $first: Int) {
        templates(filter: $filter, first: $first) {
          edges { node { id auditTrail(first: 2) { totalCount edges { node { action actor { id } } } } } }
        }
      }`;
      const statements: Record<number, number> = {};
      for (const first of [1, 12]) {
        const { result, statements: sent } = await api.countStatements(() =>
          send(PAGE, owner, { first, filter: { tags: { allOf: [tag] } } }),
        );
        const { templates } = dataOf(result);
        expect(templates.edges).toHaveLength(first);
        for (const { node } of templates.edges) {
          expect(node.auditTrail).toEqual({ totalCount: 1, edges: [{ node: { action: 'TEMPLATE_UPDATED', actor: { id: owner.id } } }] });
        }
        statements[first] = sent.length;
      }
      expect(statements[12]).toBe(statements[1]);
    });
  });

  describe('auditEvents', () => {
    it('is for staff only: UNAUTHENTICATED when anonymous, FORBIDDEN for users and services', async () => {
      const cases: Array<[TestUser | null, string]> = [
        [null, 'UNAUTHENTICATED'],
        [owner, 'FORBIDDEN'],
        [service, 'FORBIDDEN'],
      ];
      for (const [as, code] of cases) {
        const response = await send(EVENTS, as, { filter: { actorId: owner.id } });
        expect(response.body.data).toBeNull();
        expect(response.body.errors).toHaveLength(1);
        expect(errorOf(response).code).toBe(code);
      }
      const { auditEvents } = dataOf(await send(EVENTS, staff, { filter: { actorId: owner.id } }));
      expect(auditEvents.totalCount).toBeGreaterThan(0);
      expect(auditEvents.edges.every((edge: { node: { actor: { id: string } } }) => edge.node.actor.id === owner.id)).toBe(true);
    });

    describe('filters', () => {
      let actor: TestUser;
      let other: TestUser;
      let templateId: string;
      let deletedId: string;
      let experimentId: string;

      beforeAll(async () => {
        [actor, other] = await Promise.all([api.user('actor'), api.user('other')]);
        templateId = (await createTemplateViaApi(api, actor, { name: 'Filtered', isPublic: true })).id;
        dataOf(await send(SHARE, actor, { id: templateId, userIds: [other.id] }));
        dataOf(await send(UPDATE, actor, { id: templateId, input: { description: 'edited' } }));
        dataOf(await send(UNSHARE, actor, { id: templateId, userIds: [other.id] }));
        experimentId = dataOf(await send(FROM_TEMPLATE, other, { input: { templateId } })).createExperimentFromTemplate.id;
        deletedId = (await createTemplateViaApi(api, actor, { name: 'Deleted' })).id;
        dataOf(await send(DELETE, actor, { id: deletedId }));
      });

      const eventsFor = async (filter: Record<string, unknown>) => dataOf(await send(EVENTS, staff, { filter, first: 100 })).auditEvents;

      it('by actor: everything one user did, as whatever subject, newest first', async () => {
        const events = await eventsFor({ actorId: actor.id });
        expect(actionsOf(events)).toEqual([
          'TEMPLATE_DELETED',
          'TEMPLATE_CREATED',
          'TEMPLATE_UNSHARED',
          'TEMPLATE_UPDATED',
          'TEMPLATE_SHARED',
          'TEMPLATE_CREATED',
        ]);
        expect(events.totalCount).toBe(6);
        const other_ = await eventsFor({ actorId: other.id });
        expect(other_.edges.map((edge: { node: unknown }) => edge.node)).toEqual([
          expect.objectContaining({
            action: 'EXPERIMENT_CREATED',
            subjectType: 'EXPERIMENT',
            subjectId: experimentId,
            actor: { id: other.id, email: other.email },
          }),
        ]);
      });

      it('by subject, a deleted one included', async () => {
        // An id in upper case names the same subject.
        expect(actionsOf(await eventsFor({ subjectId: templateId.toUpperCase() }))).toEqual([
          'TEMPLATE_UNSHARED',
          'TEMPLATE_UPDATED',
          'TEMPLATE_SHARED',
          'TEMPLATE_CREATED',
        ]);
        const deleted = await eventsFor({ subjectId: deletedId });
        expect(actionsOf(deleted)).toEqual(['TEMPLATE_DELETED', 'TEMPLATE_CREATED']);
        expect(deleted.edges[0].node.details).toEqual({ name: 'Deleted', version: 1 });
      });

      it('by actions, and combined: filters given are ANDed; an empty list of actions filters nothing', async () => {
        const shares = await eventsFor({ actorId: actor.id, actions: ['TEMPLATE_SHARED', 'TEMPLATE_UNSHARED'] });
        expect(actionsOf(shares)).toEqual(['TEMPLATE_UNSHARED', 'TEMPLATE_SHARED']);
        expect(shares.edges.map((edge: { node: { details: unknown } }) => edge.node.details)).toEqual([
          { userIds: [other.id] },
          { userIds: [other.id] },
        ]);
        expect(actionsOf(await eventsFor({ subjectId: deletedId, actions: ['TEMPLATE_SHARED'] }))).toEqual([]);
        expect(actionsOf(await eventsFor({ subjectId: deletedId, actions: [] }))).toEqual(['TEMPLATE_DELETED', 'TEMPLATE_CREATED']);
      });

      it('by time: from is inclusive, to exclusive', async () => {
        const stored = await auditEventsOf(api, templateId);
        expect(stored).toHaveLength(4);
        // Stored times have microseconds, which a DateTimeISO cuts to milliseconds: from the second event's millisecond
        // takes it in, to the fourth's leaves the fourth out.
        const events = await eventsFor({
          subjectId: templateId,
          from: stored[1].occurredAt.toISOString(),
          to: stored[3].occurredAt.toISOString(),
        });
        expect(actionsOf(events)).toEqual(['TEMPLATE_UPDATED', 'TEMPLATE_SHARED']);
        expect(events.totalCount).toBe(2);
        expect(actionsOf(await eventsFor({ actorId: actor.id, from: new Date(Date.now() + 60_000).toISOString() }))).toEqual([]);
      });

      it('refuses bad filters with the path of the field', async () => {
        const refusals: Array<[Record<string, unknown>, string]> = [
          [{ filter: { subjectId: 'not-a-uuid' } }, '/filter/subjectId'],
          [{ filter: { actorId: '42' } }, '/filter/actorId'],
          [{ filter: { from: '2026-02-01T00:00:00Z', to: '2026-01-01T00:00:00Z' } }, '/filter/to'],
          [{ filter: { from: '2026-01-01T00:00:00Z', to: '2026-01-01T00:00:00Z' } }, '/filter/to'],
          [{ first: 0 }, '/first'],
          [{ after: 'bm90IGEgY3Vyc29y' }, '/after'],
        ];
        for (const [variables, path] of refusals) {
          const error = errorOf(await send(EVENTS, staff, variables));
          expect({ path, error }).toMatchObject({ path, error: { code: 'BAD_USER_INPUT', extensions: { validationErrors: [{ path }] } } });
        }
        // GraphQL's own checks of the variables' types.
        expect(errorOf(await send(EVENTS, staff, { filter: { actions: ['TEMPLATE_EXPLODED'] } })).code).toBe('BAD_USER_INPUT');
        expect(errorOf(await send(EVENTS, staff, { filter: { from: 'yesterday' } })).code).toBe('BAD_USER_INPUT');
      });
    });

    it('walks a long trail in keyset pages: no event twice or missed, the same total on every page', async () => {
      const walker = await api.user('walker');
      const friendOfWalker = await api.user('walked');
      const { id } = await createTemplateViaApi(api, walker);
      for (let i = 0; i < 12; i += 1) {
        dataOf(await send(SHARE, walker, { id, userIds: [friendOfWalker.id] }));
        dataOf(await send(UNSHARE, walker, { id, userIds: [friendOfWalker.id] }));
      }
      const stored = (await auditEventsOf(api, id)).reverse();
      expect(stored).toHaveLength(25);

      const walk = async (read: (after: string | null) => Promise<GraphqlResponse>, connectionOf: (data: any) => any) => {
        const seen: string[] = [];
        const pageSizes: number[] = [];
        let after: string | null = null;
        for (;;) {
          const connection = connectionOf(dataOf(await read(after)));
          expect(connection.totalCount).toBe(25);
          pageSizes.push(connection.edges.length);
          seen.push(...connection.edges.map((edge: { node: { id: string } }) => edge.node.id));
          if (!connection.pageInfo.hasNextPage) break;
          after = connection.pageInfo.endCursor;
        }
        expect(pageSizes).toEqual([10, 10, 5]);
        expect(seen).toEqual(stored.map((event) => event.id));
      };
      await walk(
        (after) => send(EVENTS, staff, { filter: { subjectId: id }, first: 10, after }),
        (data) => data.auditEvents,
      );
      await walk(
        (after) => send(TRAIL, walker, { id, first: 10, after }),
        (data) => data.template.auditTrail,
      );
    });
  });
});
