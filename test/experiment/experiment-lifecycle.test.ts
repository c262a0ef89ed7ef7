/**
 * The experiment's lifecycle over HTTP: every status move from every status, legal and illegal, for every kind of
 * caller; renaming and deleting; two moves at once. Expected outcomes come from the rules (README, The experiment's
 * life), never from what the server answers.
 */
import { randomUUID } from 'node:crypto';
import { dataOf, errorOf, useApi, type GraphqlResponse } from '../support/api';
import { insertExperiments, insertTemplates, usageOf, type TestUser } from '../support/factories';

type Role = 'owner' | 'stranger' | 'service' | 'staff' | 'anonymous';
const ROLES: Role[] = ['owner', 'stranger', 'service', 'staff', 'anonymous'];
/** The lifecycle's statuses, and one an older row holds that the lifecycle does not know. */
const STATUSES = ['draft', 'queued', 'running', 'completed', 'failed', 'cancelled', 'archived'];
const TARGETS = ['RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED'] as const;
type Target = (typeof TARGETS)[number];

/** The lifecycle: `draft -> queued -> running -> completed | failed`, `queued | running -> cancelled`. */
const LEGAL: Record<string, string[]> = {
  draft: ['queued'],
  queued: ['running', 'cancelled'],
  running: ['completed', 'failed', 'cancelled'],
};
/** Services run experiments; the owner and staff cancel them. */
const MAY_MOVE: Record<Target, Role[]> = {
  RUNNING: ['service'],
  COMPLETED: ['service'],
  FAILED: ['service'],
  CANCELLED: ['owner', 'staff'],
};
/** Who sees someone's experiment: its owner, a service token, staff. */
const SEES: Role[] = ['owner', 'service', 'staff'];
const IN_PROGRESS = ['queued', 'running'];

type Outcome = 'OK' | 'UNAUTHENTICATED' | 'NOT_FOUND' | 'FORBIDDEN' | 'CONFLICT';

function moveOutcome(role: Role, from: string, to: Target): Outcome {
  if (role === 'anonymous') return 'UNAUTHENTICATED';
  if (!SEES.includes(role)) return 'NOT_FOUND';
  if (!MAY_MOVE[to].includes(role)) return 'FORBIDDEN';
  return (LEGAL[from] ?? []).includes(to.toLowerCase()) ? 'OK' : 'CONFLICT';
}

/** Renaming and deleting: the owner's, of a draft or an ended experiment (an older row's status counts as ended). */
function editOutcome(role: Role, status: string): Outcome {
  if (role === 'anonymous') return 'UNAUTHENTICATED';
  if (!SEES.includes(role)) return 'NOT_FOUND';
  if (role !== 'owner') return 'FORBIDDEN';
  return IN_PROGRESS.includes(status) ? 'CONFLICT' : 'OK';
}

const MOVE = `
  mutation Move($id: ID!, $to: ExperimentStatusTarget!) {
    changeExperimentStatus(id: $id, to: $to) { id status startedAt finishedAt updatedAt owner { id } }
  }`;
const UPDATE = `
  mutation Update($id: ID!, $input: UpdateExperimentInput!) {
    updateExperiment(id: $id, input: $input) { id name description status updatedAt }
  }`;
const DELETE = `mutation Delete($id: ID!) { deleteExperiment(id: $id) }`;

const ACTOR_KIND: Record<Exclude<Role, 'anonymous' | 'stranger'>, string> = { owner: 'user', service: 'service', staff: 'staff' };

describe('the experiment lifecycle over HTTP', () => {
  const api = useApi();
  let users: Record<Exclude<Role, 'anonymous'>, TestUser>;

  beforeAll(async () => {
    const [owner, stranger, service, staff] = await Promise.all([
      api.user('owner'),
      api.user('stranger'),
      api.user('scheduler', ['service']),
      api.user('staff', ['admin']),
    ]);
    users = { owner, stranger, service, staff };
  });

  const as = (role: Role) => (role === 'anonymous' ? null : users[role]);

  /** The row and its audit events, as stored: what a refusal must leave as it was. */
  async function stateOf(id: string) {
    const [state] = await api.db.query(
      `select (select to_jsonb(e) from ml_experiments e where e.id = $1) as experiment,
              (select coalesce(jsonb_agg(a order by a.occurred_at), '[]'::jsonb) from audit_events a where a.subject_id = $1) as events`,
      [id],
    );
    return state as { experiment: Record<string, any> | null; events: Array<Record<string, any>> };
  }

  /** The same request for an id nobody used: what a hidden experiment must answer, to the byte. */
  function expectLikeAnUnknownId(response: GraphqlResponse, id: string, unknown: GraphqlResponse): void {
    expect(JSON.stringify(response.body)).not.toContain(id);
    expect(response).toEqual(unknown);
  }

  const moves = STATUSES.flatMap((from) =>
    TARGETS.flatMap((to) => ROLES.map((role) => ({ from, to, role, expected: moveOutcome(role, from, to) }))),
  );

  it.each(moves)('$role moves a $from experiment to $to: $expected', async ({ from, to, role, expected }) => {
    const [id] = await insertExperiments(api, [{ ownerId: users.owner.id, status: from, wizardCompleted: from !== 'draft' }]);
    const before = await stateOf(id);
    const response = await api.graphql(MOVE, { as: as(role), variables: { id, to } });

    if (expected !== 'OK') {
      const error = errorOf(response);
      expect(error.code).toBe(expected);
      if (expected === 'CONFLICT') expect(error.extensions).toMatchObject({ reason: 'STATUS_TRANSITION', currentStatus: from });
      expect(await stateOf(id)).toEqual(before);
      if (expected === 'NOT_FOUND' || expected === 'UNAUTHENTICATED') {
        const unknown = await api.graphql(MOVE, { as: as(role), variables: { id: randomUUID(), to } });
        expectLikeAnUnknownId(response, id, unknown);
      }
      return;
    }

    const moved = dataOf(response).changeExperimentStatus;
    const after = await stateOf(id);
    expect(moved).toMatchObject({ id, status: to.toLowerCase(), owner: { id: users.owner.id } });
    // Starting records when it started; ending, when it ended; each from the database's row as written.
    expect(after.experiment!.started_at === null).toBe(to !== 'RUNNING');
    expect(after.experiment!.finished_at === null).toBe(to === 'RUNNING');
    expect(moved.startedAt === null).toBe(to !== 'RUNNING');
    expect(moved.finishedAt === null).toBe(to === 'RUNNING');
    expect(new Date(moved.updatedAt).getTime()).toBeGreaterThan(new Date(before.experiment!.updated_at).getTime());
    expect(after.events.slice(before.events.length)).toEqual([
      expect.objectContaining({
        action: 'experiment.status_changed',
        actor_id: users[role as 'owner'].id,
        actor_kind: ACTOR_KIND[role as keyof typeof ACTOR_KIND],
        details: { from, to: to.toLowerCase() },
      }),
    ]);
  });

  it('runs an experiment through the lifecycle: queued by the wizard, started, completed; each time recorded once', async () => {
    const [id] = await insertExperiments(api, [{ ownerId: users.owner.id, status: 'draft' }]);
    const completed = await api.graphql('mutation($id: ID!) { completeWizard(id: $id) { status } }', {
      as: users.owner,
      variables: { id },
    });
    expect(dataOf(completed).completeWizard.status).toBe('queued');
    const started = dataOf(await api.graphql(MOVE, { as: users.service, variables: { id, to: 'RUNNING' } })).changeExperimentStatus;
    const ended = dataOf(await api.graphql(MOVE, { as: users.service, variables: { id, to: 'COMPLETED' } })).changeExperimentStatus;
    expect(started.finishedAt).toBeNull();
    expect(ended.startedAt).toBe(started.startedAt);
    expect(new Date(ended.finishedAt).getTime()).toBeGreaterThanOrEqual(new Date(started.startedAt).getTime());
    // Ended is ended: not even a service moves it again, nor does the owner cancel it.
    expect(errorOf(await api.graphql(MOVE, { as: users.service, variables: { id, to: 'FAILED' } }))).toMatchObject({
      code: 'CONFLICT',
      extensions: { currentStatus: 'completed' },
    });
    expect(errorOf(await api.graphql(MOVE, { as: users.owner, variables: { id, to: 'CANCELLED' } })).code).toBe('CONFLICT');
    const { events } = await stateOf(id);
    expect(events.map((event) => [event.actor_kind, event.details.from, event.details.to])).toEqual([
      ['user', 'draft', 'queued'],
      ['service', 'queued', 'running'],
      ['service', 'running', 'completed'],
    ]);
  });

  it('refuses a status that is not a move as GraphQL does an unknown enum value, QUEUED included', async () => {
    const [id] = await insertExperiments(api, [{ ownerId: users.owner.id, status: 'draft' }]);
    for (const to of ['QUEUED', 'DRAFT', 'running']) {
      const response = await api.graphql(MOVE, { as: users.service, variables: { id, to } });
      expect(errorOf(response).code).toBe('BAD_USER_INPUT');
    }
  });

  describe('two moves of the same experiment at once', () => {
    it.each([
      ['COMPLETED', 'FAILED', 'running'],
      ['RUNNING', 'RUNNING', 'queued'],
      ['RUNNING', 'CANCELLED', 'queued'],
    ] as const)('%s and %s of a %s experiment: exactly one wins, the other is CONFLICT with the winner’s status', async (a, b, from) => {
      const ids = await insertExperiments(
        api,
        Array.from({ length: 10 }, () => ({ ownerId: users.owner.id, status: from, wizardCompleted: true })),
      );
      const caller = (to: Target) => (to === 'CANCELLED' ? users.owner : users.service);
      for (const id of ids) {
        const [first, second] = await Promise.all([a, b].map((to) => api.graphql(MOVE, { as: caller(to), variables: { id, to } })));
        const { experiment, events } = await stateOf(id);
        const outcomes = [first, second].map((response) => (response.body.errors ? 'CONFLICT' : 'OK'));
        // RUNNING then CANCELLED may both succeed (queued -> running -> cancelled); every other pair has one winner.
        if (a === 'RUNNING' && b === 'CANCELLED' && outcomes.every((outcome) => outcome === 'OK')) {
          expect(experiment!.status).toBe('cancelled');
          expect(events.map((event) => event.details.to)).toEqual(['running', 'cancelled']);
          continue;
        }
        expect(outcomes.sort()).toEqual(['CONFLICT', 'OK']);
        const winner = [first, second].find((response) => !response.body.errors)!;
        const loser = [first, second].find((response) => response.body.errors)!;
        expect(errorOf(loser)).toMatchObject({ code: 'CONFLICT', extensions: { currentStatus: experiment!.status } });
        expect(dataOf(winner).changeExperimentStatus.status).toBe(experiment!.status);
        expect(events).toHaveLength(1);
      }
    });
  });

  describe('renaming and describing', () => {
    const edits = STATUSES.flatMap((status) => ROLES.map((role) => ({ status, role, expected: editOutcome(role, status) })));

    it.each(edits)('$role renames a $status experiment: $expected', async ({ status, role, expected }) => {
      const [id] = await insertExperiments(api, [{ ownerId: users.owner.id, status, name: 'Before' }]);
      const before = await stateOf(id);
      const input = { name: '  After  ', description: 'Now described' };
      const response = await api.graphql(UPDATE, { as: as(role), variables: { id, input } });
      if (expected !== 'OK') {
        expect(errorOf(response).code).toBe(expected);
        if (expected === 'CONFLICT') {
          expect(errorOf(response).extensions).toMatchObject({ reason: 'EXPERIMENT_IN_PROGRESS', currentStatus: status });
        }
        if (expected === 'NOT_FOUND') {
          expectLikeAnUnknownId(response, id, await api.graphql(UPDATE, { as: as(role), variables: { id: randomUUID(), input } }));
        }
        expect(await stateOf(id)).toEqual(before);
        return;
      }
      expect(dataOf(response).updateExperiment).toMatchObject({ id, name: 'After', description: 'Now described', status });
      const after = await stateOf(id);
      expect(after.events).toEqual([
        expect.objectContaining({ action: 'experiment.updated', actor_kind: 'user', details: { changed: ['name', 'description'] } }),
      ]);
    });

    it('writes nothing for a change that changes nothing; clears a description with null; refuses bad names at their path', async () => {
      const [id] = await insertExperiments(api, [{ ownerId: users.owner.id, status: 'completed', name: 'Kept' }]);
      const before = await stateOf(id);
      const same = await api.graphql(UPDATE, { as: users.owner, variables: { id, input: { name: 'Kept' } } });
      expect(dataOf(same).updateExperiment.name).toBe('Kept');
      expect(await stateOf(id)).toEqual(before);

      await api.graphql(UPDATE, { as: users.owner, variables: { id, input: { description: 'Some' } } });
      const cleared = await api.graphql(UPDATE, { as: users.owner, variables: { id, input: { description: null } } });
      expect(dataOf(cleared).updateExperiment.description).toBeNull();

      for (const [name, message] of [
        ['', 'must not be empty'],
        ['x'.repeat(256), 'must be at most 255 characters'],
        ['a\u0000b', expect.any(String)],
        [null, 'must be a string'],
      ] as const) {
        const error = errorOf(await api.graphql(UPDATE, { as: users.owner, variables: { id, input: { name } } }));
        expect(error.code).toBe('BAD_USER_INPUT');
        expect(error.extensions.validationErrors).toEqual([{ path: '/name', message }]);
      }
      expect((await stateOf(id)).experiment!.name).toBe('Kept');
    });
  });

  describe('deleting', () => {
    const deletions = STATUSES.flatMap((status) => ROLES.map((role) => ({ status, role, expected: editOutcome(role, status) })));

    it.each(deletions)('$role deletes a $status experiment: $expected', async ({ status, role, expected }) => {
      const [id] = await insertExperiments(api, [{ ownerId: users.owner.id, status }]);
      const before = await stateOf(id);
      const response = await api.graphql(DELETE, { as: as(role), variables: { id } });
      if (expected !== 'OK') {
        expect(errorOf(response).code).toBe(expected);
        if (expected === 'CONFLICT') expect(errorOf(response).extensions).toMatchObject({ currentStatus: status });
        if (expected === 'NOT_FOUND') {
          expectLikeAnUnknownId(response, id, await api.graphql(DELETE, { as: as(role), variables: { id: randomUUID() } }));
        }
        expect(await stateOf(id)).toEqual(before);
        return;
      }
      expect(dataOf(response).deleteExperiment).toBe(id);
      const after = await stateOf(id);
      expect(after.experiment).toBeNull();
      // The trail outlives its subject, with the deletion in it.
      expect(after.events).toEqual([
        expect.objectContaining({
          action: 'experiment.deleted',
          actor_kind: 'user',
          details: { name: 'Experiment 1', status, templateId: null },
        }),
      ]);
      expect(errorOf(await api.graphql(DELETE, { as: users.owner, variables: { id } })).code).toBe('NOT_FOUND');
    });

    it("leaves the template's usage count as it was: it counts the experiments created from it", async () => {
      const [templateId] = await insertTemplates(api, [{ ownerId: users.owner.id, isPublic: true }]);
      const created = await api.graphql(
        'mutation($input: CreateExperimentFromTemplateInput!) { createExperimentFromTemplate(input: $input) { id } }',
        { as: users.owner, variables: { input: { templateId, name: 'Used once' } } },
      );
      const { id } = dataOf(created).createExperimentFromTemplate;
      const used = await usageOf(api, templateId);
      expect(used.usage_count).toBe(1);

      expect(dataOf(await api.graphql(DELETE, { as: users.owner, variables: { id } })).deleteExperiment).toBe(id);

      expect(await usageOf(api, templateId)).toEqual(used);
      const [event] = (await stateOf(id)).events.filter((e) => e.action === 'experiment.deleted');
      expect(event.details).toEqual({ name: 'Used once', status: 'draft', templateId });
    });
  });

  it("staff cancel anyone's experiment, and the trail names them as staff", async () => {
    const [id] = await insertExperiments(api, [{ ownerId: users.owner.id, status: 'running', wizardCompleted: true }]);
    const response = await api.graphql(MOVE, { as: users.staff, variables: { id, to: 'CANCELLED' } });
    expect(dataOf(response).changeExperimentStatus).toMatchObject({ id, status: 'cancelled', owner: { id: users.owner.id } });
    const trail = await api.graphql(
      `query($id: ID!) { auditEvents(filter: { subjectId: $id }) { edges { node { action actorKind actor { id } details } } } }`,
      { as: users.staff, variables: { id } },
    );
    expect(dataOf(trail).auditEvents.edges.map((edge: { node: unknown }) => edge.node)).toEqual([
      {
        action: 'EXPERIMENT_STATUS_CHANGED',
        actorKind: 'STAFF',
        actor: { id: users.staff.id },
        details: { from: 'running', to: 'cancelled' },
      },
    ]);
  });
});
