import { randomUUID } from 'node:crypto';
import { dataOf, errorOf, useApi, type GraphqlResponse } from '../support/api';
import {
  auditEventsOf,
  createTemplateViaApi,
  insertExperiments,
  validConfiguration,
  type StoredAuditEvent,
  type TestUser,
} from '../support/factories';

/**
 * Every mutation over real HTTP against real PostgreSQL: one audit event per effective change, written with the
 * change, none for a change that changes nothing, and none for a change refused or rolled back.
 */

const UPDATE = `mutation($id: ID!, $input: UpdateTemplateInput!, $expectedVersion: Int, $changeNote: String) {
  updateTemplate(id: $id, input: $input, expectedVersion: $expectedVersion, changeNote: $changeNote) { id version } }`;
const REVERT = 'mutation($id: ID!, $toVersion: Int!) { revertTemplate(id: $id, toVersion: $toVersion) { id version } }';
const CLONE = 'mutation($id: ID!) { cloneTemplate(id: $id) { id name } }';
const SHARE = 'mutation($id: ID!, $userIds: [ID!]!) { shareTemplate(id: $id, userIds: $userIds) { id } }';
const UNSHARE = 'mutation($id: ID!, $userIds: [ID!]!) { unshareTemplate(id: $id, userIds: $userIds) { id } }';
const SET_PUBLIC = 'mutation($id: ID!, $isPublic: Boolean!) { setTemplatePublic(id: $id, isPublic: $isPublic) { id isPublic } }';
const DEACTIVATE = 'mutation($id: ID!) { deactivateTemplate(id: $id) { id } }';
const REACTIVATE = 'mutation($id: ID!) { reactivateTemplate(id: $id) { id } }';
const DELETE = 'mutation($id: ID!) { deleteTemplate(id: $id) }';
const EXPORT = 'query($id: ID!) { exportTemplate(id: $id) }';
const IMPORT = 'mutation($document: JSONObject!) { importTemplate(document: $document) { id } }';
const FROM_TEMPLATE = `mutation($input: CreateExperimentFromTemplateInput!) {
  createExperimentFromTemplate(input: $input) { id status } }`;
const FROM_SCRATCH = 'mutation($input: CreateExperimentInput!) { createExperiment(input: $input) { id } }';
const SAVE_STEP = 'mutation($id: ID!, $input: SaveWizardStepInput!) { saveWizardStep(id: $id, input: $input) { id } }';
const COMPLETE = 'mutation($id: ID!) { completeWizard(id: $id) { id status } }';
const ANALYSIS = 'mutation($id: ID!, $input: AnalysisMetadataInput!) { writeAnalysisMetadata(id: $id, input: $input) { id } }';
const TRAINING_TIME = 'mutation($id: ID!, $seconds: Float!) { recordTrainingTime(id: $id, actualTrainingSeconds: $seconds) { id } }';

/** What a test states about an event; ids, times and request ids are checked on their own. */
type Summary = Pick<StoredAuditEvent, 'action' | 'actorId' | 'actorKind' | 'subjectType' | 'details'>;

const summaryOf = ({ action, actorId, actorKind, subjectType, details }: StoredAuditEvent): Summary => ({
  action,
  actorId,
  actorKind,
  subjectType,
  details,
});

/** A JSON value written as a GraphQL literal (object keys unquoted). */
function graphqlLiteral(value: unknown): string {
  return JSON.stringify(value).replace(/"([A-Za-z_][A-Za-z0-9_]*)":/g, '$1:');
}

describe('audit events of every change over HTTP', () => {
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

  async function eventCountBy(actor: TestUser): Promise<number> {
    const [{ n }] = await api.db.query<{ n: number }>('select count(*)::int as n from audit_events where actor_id = $1', [actor.id]);
    return n;
  }

  /**
   * A subject's trail, checked after each request: `send` succeeds, and the trail then holds what it held plus
   * `event` (nothing more when `event` is left out: a change that changed nothing).
   */
  function trailOf(subjectId: string, initial: Summary[]) {
    const expected = [...initial];
    return async (response: Promise<GraphqlResponse>, event?: Summary) => {
      dataOf(await response);
      if (event) expected.push(event);
      const events = await auditEventsOf(api, subjectId);
      expect(events.map(summaryOf)).toEqual(expected);
      // One request, one event: no two events share a request id.
      expect(new Set(events.map((e) => e.requestId)).size).toBe(events.length);
      return events;
    };
  }

  it('a template: one event per effective change, none for a change that changes nothing, all kept after deletion', async () => {
    const { id } = await createTemplateViaApi(api, owner, { name: 'Audited' });
    const as = (user: TestUser, query: string, variables: Record<string, unknown>) => api.graphql(query, { as: user, variables });
    const byOwner = (action: string, details: Record<string, unknown> = {}): Summary => ({
      action,
      actorId: owner.id,
      actorKind: 'user',
      subjectType: 'template',
      details,
    });
    const expectTrail = trailOf(id, [byOwner('template.created', { name: 'Audited' })]);

    await expectTrail(
      as(owner, UPDATE, { id, input: { description: 'second' }, changeNote: 'Second' }),
      byOwner('template.updated', { fromVersion: 1, toVersion: 2, changed: ['description'] }),
    );
    await expectTrail(as(owner, UPDATE, { id, input: { description: 'second' } }));
    // The configuration as a literal of the query, equal to the stored one, is no change either.
    const literal = `mutation($id: ID!) { updateTemplate(id: $id, input: { configuration: ${graphqlLiteral(validConfiguration())} }) { id version } }`;
    expect(dataOf(await as(owner, literal, { id })).updateTemplate.version).toBe(2);
    await expectTrail(as(owner, UPDATE, { id, input: { name: 'Audited', tags: ['churn', 'tabular'] } }));
    await expectTrail(
      as(owner, UPDATE, { id, input: { name: 'Audited v3', tags: ['churn'] } }),
      byOwner('template.updated', { fromVersion: 2, toVersion: 3, changed: ['name', 'tags'] }),
    );
    await expectTrail(
      as(owner, REVERT, { id, toVersion: 2 }),
      byOwner('template.reverted', { fromVersion: 3, toVersion: 4, restoredVersion: 2, changed: ['name', 'tags'] }),
    );
    await expectTrail(as(owner, REVERT, { id, toVersion: 2 }));

    await expectTrail(
      as(owner, SHARE, { id, userIds: [friend.id, stranger.id] }),
      byOwner('template.shared', { userIds: [friend.id, stranger.id] }),
    );
    // The owner and users it is already shared with are no change: only the new one is named.
    await expectTrail(
      as(owner, SHARE, { id, userIds: [friend.id, owner.id, staff.id, staff.id] }),
      byOwner('template.shared', { userIds: [staff.id] }),
    );
    await expectTrail(as(owner, SHARE, { id, userIds: [friend.id, owner.id] }));
    await expectTrail(
      as(owner, UNSHARE, { id, userIds: [randomUUID(), stranger.id] }),
      byOwner('template.unshared', { userIds: [stranger.id] }),
    );
    await expectTrail(as(owner, UNSHARE, { id, userIds: [stranger.id] }));

    await expectTrail(as(owner, SET_PUBLIC, { id, isPublic: true }), byOwner('template.published'));
    await expectTrail(as(owner, SET_PUBLIC, { id, isPublic: true }));
    await expectTrail(as(owner, SET_PUBLIC, { id, isPublic: false }), byOwner('template.unpublished'));
    await expectTrail(as(owner, SET_PUBLIC, { id, isPublic: false }));
    await expectTrail(as(owner, DEACTIVATE, { id }), byOwner('template.deactivated'));
    await expectTrail(as(owner, DEACTIVATE, { id }));
    await expectTrail(as(owner, REACTIVATE, { id }), byOwner('template.reactivated'));
    await expectTrail(as(owner, REACTIVATE, { id }));

    // A clone is the copy's event, by whoever cloned it; the source is read, not changed (exporting it neither).
    const clone = dataOf(await as(friend, CLONE, { id })).cloneTemplate;
    expect((await auditEventsOf(api, clone.id)).map(summaryOf)).toEqual([
      {
        action: 'template.cloned',
        actorId: friend.id,
        actorKind: 'user',
        subjectType: 'template',
        details: { name: 'Audited (copy)', sourceTemplateId: id, sourceVersion: 4 },
      },
    ]);

    // An import is the new template's event, with what the document claims it came from.
    const { exportTemplate: document } = dataOf(await as(friend, EXPORT, { id }));
    const imported = dataOf(await as(friend, IMPORT, { document: { ...document, name: 'Imported' } })).importTemplate;
    expect((await auditEventsOf(api, imported.id)).map(summaryOf)).toEqual([
      {
        action: 'template.imported',
        actorId: friend.id,
        actorKind: 'user',
        subjectType: 'template',
        details: { name: 'Imported', documentSource: { templateId: id, version: 4 } },
      },
    ]);

    const trail = await expectTrail(as(owner, DELETE, { id }), byOwner('template.deleted', { name: 'Audited', version: 4 }));
    // The template and its versions are gone; its events are all there, each with its own request id.
    expect(await api.db.query('select id from experiment_templates where id = $1', [id])).toEqual([]);
    expect(await api.db.query('select id from experiment_template_versions where template_id = $1', [id])).toEqual([]);
    expect(trail).toHaveLength(12);
    for (const event of trail) expect(event.requestId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const times = trail.map((event) => event.occurredAt.getTime());
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it('an experiment: created, wizard steps, completion, analysis and training time; none for repeats', async () => {
    const template = await createTemplateViaApi(api, owner, { name: 'Experiment source', isPublic: true });
    const experiment = dataOf(
      await api.graphql(FROM_TEMPLATE, { as: friend, variables: { input: { templateId: template.id, name: 'Audited run' } } }),
    ).createExperimentFromTemplate;
    const byFriend = (action: string, details: Record<string, unknown>): Summary => ({
      action,
      actorId: friend.id,
      actorKind: 'user',
      subjectType: 'experiment',
      details,
    });
    const expectTrail = trailOf(experiment.id, [
      byFriend('experiment.created', { name: 'Audited run', templateId: template.id, templateVersion: 1 }),
    ]);
    const as = (user: TestUser, query: string, variables: Record<string, unknown>) => api.graphql(query, { as: user, variables });
    const id = experiment.id;

    await expectTrail(
      as(friend, SAVE_STEP, { id, input: { step: 2, state: { open: 'model' } } }),
      byFriend('experiment.wizard_saved', { wizardStepCompleted: 2, changed: ['wizardStepCompleted', 'wizardState'] }),
    );
    // An earlier step with the same state: the furthest step reached stays, nothing changed.
    await expectTrail(as(friend, SAVE_STEP, { id, input: { step: 1, state: { open: 'model' } } }));
    const model = { type: 'gradient_boosting', framework: 'xgboost' };
    await expectTrail(
      as(friend, SAVE_STEP, { id, input: { step: 2, section: 'MODEL', value: model } }),
      byFriend('experiment.wizard_saved', { wizardStepCompleted: 2, changed: ['configuration/model'] }),
    );
    await expectTrail(as(friend, SAVE_STEP, { id, input: { step: 2, section: 'MODEL', value: model, state: { open: 'model' } } }));
    await expectTrail(
      as(friend, COMPLETE, { id }),
      byFriend('experiment.status_changed', { from: 'draft', to: 'queued', wizardCompleted: true }),
    );
    await expectTrail(as(friend, COMPLETE, { id }));
    await expectTrail(as(service, ANALYSIS, { id, input: { datasetStatistics: { rows: 10 }, estimatedTrainingSeconds: 600 } }), {
      action: 'experiment.analysis_written',
      actorId: service.id,
      actorKind: 'service',
      subjectType: 'experiment',
      details: { changed: ['datasetStatistics', 'estimatedTrainingSeconds'] },
    });
    await expectTrail(as(service, ANALYSIS, { id, input: { datasetStatistics: { rows: 10 }, featureImportance: {} } }));
    await expectTrail(
      as(friend, TRAINING_TIME, { id, seconds: 60 }),
      byFriend('experiment.training_time_recorded', { from: null, to: 60 }),
    );
    await expectTrail(as(friend, TRAINING_TIME, { id, seconds: 60 }));
    // Using a template counts its use; that is no change of the template to audit.
    expect((await auditEventsOf(api, template.id)).map((event) => event.action)).toEqual(['template.created']);
  });

  it('a draft from scratch, and the wizard completed on an older row whose status it leaves alone', async () => {
    const draft = dataOf(await api.graphql(FROM_SCRATCH, { as: friend, variables: { input: { name: 'From scratch' } } })).createExperiment;
    expect((await auditEventsOf(api, draft.id)).map(summaryOf)).toEqual([
      {
        action: 'experiment.created',
        actorId: friend.id,
        actorKind: 'user',
        subjectType: 'experiment',
        details: { name: 'From scratch', templateId: null, templateVersion: null },
      },
    ]);

    const [running] = await insertExperiments(api, [{ ownerId: friend.id, status: 'running' }]);
    expect(dataOf(await api.graphql(COMPLETE, { as: friend, variables: { id: running } })).completeWizard.status).toBe('running');
    expect((await auditEventsOf(api, running)).map(summaryOf)).toEqual([
      {
        action: 'experiment.wizard_completed',
        actorId: friend.id,
        actorKind: 'user',
        subjectType: 'experiment',
        details: { status: 'running' },
      },
    ]);
  });

  it('name the kind of actor: a staff token acts as staff, a service token as a service', async () => {
    const { id } = await createTemplateViaApi(api, staff, { name: 'Staff template' });
    const [created] = await auditEventsOf(api, id);
    expect(created).toMatchObject({ action: 'template.created', actorId: staff.id, actorKind: 'staff' });
    const both = await api.user('staff-service', ['service', 'admin']);
    const other = await createTemplateViaApi(api, both);
    expect((await auditEventsOf(api, other.id))[0]).toMatchObject({ actorId: both.id, actorKind: 'staff' });
  });

  it('carry the id the server gave the request, as its request log shows it', async () => {
    const { id } = await createTemplateViaApi(api, owner);
    const before = api.logs.length;
    dataOf(await api.graphql(SET_PUBLIC, { as: owner, variables: { id, isPublic: true } }));
    // The line is written once the answer has left, which may be just after the client has read it.
    const requestIds = () =>
      api.logs
        .slice(before)
        .map((line) => JSON.parse(line) as { reqId?: string; msg?: string })
        .filter((line) => line.msg === 'request completed')
        .map((line) => line.reqId);
    for (let waited = 0; requestIds().length === 0 && waited < 2_000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
    const [published] = (await auditEventsOf(api, id)).filter((event) => event.action === 'template.published');
    expect(requestIds()).toEqual([published.requestId]);
  });

  describe('refused and failed changes write no event', () => {
    it('refusals: FORBIDDEN, NOT_FOUND, CONFLICT, BAD_USER_INPUT, UNAUTHENTICATED', async () => {
      const { id } = await createTemplateViaApi(api, owner, { name: 'Refusing' });
      dataOf(await api.graphql(SHARE, { as: owner, variables: { id, userIds: [friend.id] } }));
      const [draft] = await insertExperiments(api, [{ ownerId: friend.id, configuration: { dataset: { source: 's3://half' } } }]);
      const before = {
        template: await auditEventsOf(api, id),
        draft: await auditEventsOf(api, draft),
        friend: await eventCountBy(friend),
        stranger: await eventCountBy(stranger),
      };
      const refusals: Array<[code: string, response: Promise<GraphqlResponse>]> = [
        ['FORBIDDEN', api.graphql(UPDATE, { as: friend, variables: { id, input: { name: 'Not mine' } } })],
        ['FORBIDDEN', api.graphql(SHARE, { as: friend, variables: { id, userIds: [stranger.id] } })],
        ['NOT_FOUND', api.graphql(DELETE, { as: stranger, variables: { id } })],
        ['CONFLICT', api.graphql(UPDATE, { as: owner, variables: { id, input: { name: 'Stale' }, expectedVersion: 7 } })],
        ['BAD_USER_INPUT', api.graphql(UPDATE, { as: owner, variables: { id, input: { name: '   ' } } })],
        ['BAD_USER_INPUT', api.graphql(SHARE, { as: owner, variables: { id, userIds: [randomUUID()] } })],
        ['NOT_FOUND', api.graphql(REVERT, { as: owner, variables: { id, toVersion: 9 } })],
        ['UNAUTHENTICATED', api.graphql(SET_PUBLIC, { variables: { id, isPublic: true } })],
        // The merged configuration is invalid: the use was counted in the transaction, which rolls back.
        [
          'BAD_USER_INPUT',
          api.graphql(FROM_TEMPLATE, { as: friend, variables: { input: { templateId: id, overrides: { model: { type: 42 } } } } }),
        ],
        ['BAD_USER_INPUT', api.graphql(COMPLETE, { as: friend, variables: { id: draft } })],
        ['NOT_FOUND', api.graphql(TRAINING_TIME, { as: stranger, variables: { id: draft, seconds: 5 } })],
      ];
      for (const [code, response] of refusals) expect(errorOf(await response).code).toBe(code);

      expect(await auditEventsOf(api, id)).toEqual(before.template);
      expect(await auditEventsOf(api, draft)).toEqual(before.draft);
      expect(await eventCountBy(friend)).toBe(before.friend);
      expect(await eventCountBy(stranger)).toBe(before.stranger);
      const [{ usage_count }] = await api.db.query('select usage_count from experiment_templates where id = $1', [id]);
      expect(usage_count).toBe(0);
    });

    it('an update the database refuses writes neither the change, its version nor its event: one statement, all or nothing', async () => {
      const { id } = await createTemplateViaApi(api, owner, { name: 'Failing' });
      const before = await auditEventsOf(api, id);
      // The database refuses the template's new row, in the statement that also writes the version and the event.
      await api.db.query(
        `alter table experiment_templates add constraint audit_test_refused check (description is distinct from 'refused') not valid`,
      );
      try {
        const { result: response, statements } = await api.countStatements(() =>
          api.graphql(UPDATE, { as: owner, variables: { id, input: { description: 'refused' } } }),
        );
        expect(errorOf(response).code).toBe('INTERNAL_SERVER_ERROR');
        const [write] = statements.filter((sql) => /insert into audit_events/.test(sql));
        expect(write).toMatch(/update experiment_templates/);
        expect(write).toMatch(/insert into experiment_template_versions/);
        expect(await auditEventsOf(api, id)).toEqual(before);
        const [template] = await api.db.query('select version, description from experiment_templates where id = $1', [id]);
        expect(template).toEqual({ version: 1, description: 'Predicts churn from usage data' });
        expect(await api.db.query('select version from experiment_template_versions where template_id = $1', [id])).toEqual([
          { version: 1 },
        ]);
      } finally {
        await api.db.query('alter table experiment_templates drop constraint audit_test_refused');
      }
    });

    it('a creation the database refuses writes neither the template nor its event: one statement, all or nothing', async () => {
      await api.db.query(
        `alter table experiment_template_versions add constraint audit_test_refused check (change_note is distinct from 'refused') not valid`,
      );
      try {
        const events = await eventCountBy(owner);
        const templates = await api.db.query('select count(*)::int as n from experiment_templates where created_by = $1', [owner.id]);
        const create = await api.graphql('mutation($input: CreateTemplateInput!) { createTemplate(input: $input) { id } }', {
          as: owner,
          variables: {
            input: { name: 'Never', category: 'CLASSIFICATION', configuration: validConfiguration(), changeNote: 'refused' },
          },
        });
        expect(errorOf(create).code).toBe('INTERNAL_SERVER_ERROR');
        expect(await eventCountBy(owner)).toBe(events);
        expect(await api.db.query('select count(*)::int as n from experiment_templates where created_by = $1', [owner.id])).toEqual(
          templates,
        );
      } finally {
        await api.db.query('alter table experiment_template_versions drop constraint audit_test_refused');
      }
    });
  });
});
