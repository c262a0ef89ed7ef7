/**
 * The authorization matrix: every query, template field and mutation, for every kind of caller and every kind of
 * template, over real HTTP against real PostgreSQL. The expected outcome of each cell comes from the rules below
 * (docs/ARCHITECTURE.md, Access; README, Design notes → Inactive templates), never from what the server
 * answers. Cells are generated: one `it` per (operation × template kind × caller).
 *
 * On top of the outcome, every cell checks two properties:
 * - ids leak nothing: where the target is hidden from the caller, the whole answer (HTTP status and body) is the
 *   one the same caller gets for the same operation on a random UUID, and the id is not echoed;
 * - a refused mutation writes nothing: the template row, its versions, its shares, its experiments (usage count
 *   included), the audit events of both and the row counts of every table are the same before and after.
 */
import { randomUUID } from 'node:crypto';
import { dataOf, errorOf, useApi, type Api, type GraphqlResponse } from '../support/api';
import { validConfiguration, type TestUser } from '../support/factories';

// ---------------------------------------------------------------------------------------------------------------
// The world: who calls, what kinds of template there are
// ---------------------------------------------------------------------------------------------------------------

type Caller = 'owner' | 'shared' | 'stranger' | 'anonymous' | 'service' | 'staff';
type Kind = 'private' | 'shared' | 'public' | 'inactive' | 'inactivePublic';

/**
 * The people of the template matrix, staff among them (`roles: ["admin"]`); a service token joins them for experiment
 * operations.
 */
const TEMPLATE_CALLERS: Caller[] = ['owner', 'shared', 'stranger', 'anonymous', 'staff'];
const EXPERIMENT_CALLERS: Caller[] = ['owner', 'shared', 'stranger', 'anonymous', 'service', 'staff'];

interface KindSpec {
  isPublic: boolean;
  /** Shared with the `shared` caller. */
  shared: boolean;
  isActive: boolean;
}

/**
 * Two deactivated kinds: one shared with the shared user only (visible to owner and shared user, hidden from the
 * rest: an inactive template must stay hidden, not answer CONFLICT), and one public (visible to everyone: strangers
 * and anonymous callers meet the inactive rules).
 */
const KINDS: Record<Kind, KindSpec> = {
  private: { isPublic: false, shared: false, isActive: true },
  shared: { isPublic: false, shared: true, isActive: true },
  public: { isPublic: true, shared: false, isActive: true },
  inactive: { isPublic: false, shared: true, isActive: false },
  inactivePublic: { isPublic: true, shared: false, isActive: false },
};
const ALL_KINDS = Object.keys(KINDS) as Kind[];

// ---------------------------------------------------------------------------------------------------------------
// The rules
// ---------------------------------------------------------------------------------------------------------------

type Outcome = 'OK' | 'NULL' | 'LISTED' | 'UNLISTED' | 'UNAUTHENTICATED' | 'FORBIDDEN' | 'NOT_FOUND' | 'CONFLICT';

interface Cell {
  caller: Caller;
  kind: Kind;
}

/** DESIGN: a template is visible to its owner, to users it is shared with, and to everyone when public... */
const seesInOwnRight = ({ caller, kind }: Cell) =>
  caller === 'owner' || KINDS[kind].isPublic || (caller === 'shared' && KINDS[kind].shared);
/** ...and staff can find anything. */
const seesTemplate = (cell: Cell) => cell.caller === 'staff' || seesInOwnRight(cell);
/** DESIGN: experiments are visible to their owner; per the schema, readable by a service token and by staff. */
const seesExperiment = ({ caller }: Cell) => caller === 'owner' || caller === 'service' || caller === 'staff';
const service = ({ caller }: Cell) => caller === 'service';

const anonymous = ({ caller }: Cell) => caller === 'anonymous';
const owner = ({ caller }: Cell) => caller === 'owner';
const staff = ({ caller }: Cell) => caller === 'staff';
const or =
  (...rules: Array<(cell: Cell) => boolean>) =>
  (cell: Cell) =>
    rules.some((rule) => rule(cell));
const inactive = ({ kind }: Cell) => !KINDS[kind].isActive;
const not = (rule: (cell: Cell) => boolean) => (cell: Cell) => !rule(cell);
const always = () => true;
const newTag = () => `matrix-${randomUUID().slice(0, 8)}`;

/** Ordered: the first rule that applies gives the outcome. */
type Rules = Array<[applies: (cell: Cell) => boolean, outcome: Outcome]>;

function outcomeOf(rules: Rules, cell: Cell): Outcome {
  return rules.find(([applies]) => applies(cell))![1];
}

const RULES = {
  /** `template(id)` and its fields: a hidden template is null, exactly like an unknown id. */
  templateRead: [
    [not(seesTemplate), 'NULL'],
    [always, 'OK'],
  ] as Rules,

  /**
   * Only the owner (and staff) edits, shares, publishes, deactivates, transfers or deletes: FORBIDDEN if visible,
   * NOT_FOUND if hidden.
   */
  ownerOrStaff: [
    [anonymous, 'UNAUTHENTICATED'],
    [not(seesTemplate), 'NOT_FOUND'],
    [not(or(owner, staff)), 'FORBIDDEN'],
    [always, 'OK'],
  ] as Rules,

  /** Visible templates can be cloned; an inactive one only by its owner (README, Design notes). */
  clone: [
    [anonymous, 'UNAUTHENTICATED'],
    [not(seesTemplate), 'NOT_FOUND'],
    [(cell) => inactive(cell) && !owner(cell), 'CONFLICT'],
    [always, 'OK'],
  ] as Rules,

  /** Visible templates can be used; an inactive one cannot start experiments, not even for its owner. */
  use: [
    [anonymous, 'UNAUTHENTICATED'],
    [not(seesTemplate), 'NOT_FOUND'],
    [inactive, 'CONFLICT'],
    [always, 'OK'],
  ] as Rules,

  /** `experiment(id)`: the owner's, or any for a service token; null otherwise, like an unknown id. */
  experimentRead: [
    [not(seesExperiment), 'NULL'],
    [always, 'OK'],
  ] as Rules,

  /** The wizard is the owner's alone: anyone else meets an experiment that does not exist. */
  wizard: [
    [anonymous, 'UNAUTHENTICATED'],
    [not(owner), 'NOT_FOUND'],
    [always, 'OK'],
  ] as Rules,

  /** Analysis results and training times: the owner, or a service token on any experiment; to anyone else it does not exist. */
  analysis: [
    [anonymous, 'UNAUTHENTICATED'],
    [(cell) => !owner(cell) && !service(cell), 'NOT_FOUND'],
    [always, 'OK'],
  ] as Rules,

  /** Renaming and deleting are the owner's: FORBIDDEN to a service or staff who see it, NOT_FOUND to the rest. */
  experimentOwnerOnly: [
    [anonymous, 'UNAUTHENTICATED'],
    [not(seesExperiment), 'NOT_FOUND'],
    [not(owner), 'FORBIDDEN'],
    [always, 'OK'],
  ] as Rules,

  /** Cancelling: the owner or staff (README, the experiment's life). */
  cancel: [
    [anonymous, 'UNAUTHENTICATED'],
    [not(seesExperiment), 'NOT_FOUND'],
    [(cell) => !owner(cell) && !staff(cell), 'FORBIDDEN'],
    [always, 'OK'],
  ] as Rules,

  /** Running: a service token only. */
  run: [
    [anonymous, 'UNAUTHENTICATED'],
    [not(seesExperiment), 'NOT_FOUND'],
    [not(service), 'FORBIDDEN'],
    [always, 'OK'],
  ] as Rules,

  /** A listing of experiments: another owner's experiment is never listed but to a service or staff. */
  experimentListing: [
    [anonymous, 'UNAUTHENTICATED'],
    [not(seesExperiment), 'UNLISTED'],
    [always, 'LISTED'],
  ] as Rules,

  /** A listing narrowed to the experiment's template: it must also be a template the caller may see. */
  experimentListingByTemplate: [
    [anonymous, 'UNAUTHENTICATED'],
    [not(seesExperiment), 'UNLISTED'],
    [not(seesTemplate), 'UNLISTED'],
    [always, 'LISTED'],
  ] as Rules,
};

type Scope = 'MINE' | 'SHARED_WITH_ME' | 'PUBLIC' | 'ALL_VISIBLE' | 'EVERYONE';
type ActiveState = 'ACTIVE' | 'INACTIVE' | 'ALL';
const SCOPES: Scope[] = ['MINE', 'SHARED_WITH_ME', 'PUBLIC', 'ALL_VISIBLE', 'EVERYONE'];
const ACTIVE_STATES: ActiveState[] = ['ACTIVE', 'INACTIVE', 'ALL'];

/**
 * Listings: within what the caller sees in their own right (staff too: their own view is not everyone's), within the
 * scope, and deactivated templates only ever listed to their owner; `EVERYONE` is staff's alone, and lists every
 * template, deactivated ones too.
 */
function listingRules(scope: Scope, activeState: ActiveState): Rules {
  const everyone = scope === 'EVERYONE';
  const inScope: Record<Scope, (cell: Cell) => boolean> = {
    MINE: owner,
    SHARED_WITH_ME: ({ caller, kind }) => caller === 'shared' && KINDS[kind].shared,
    PUBLIC: ({ kind }) => KINDS[kind].isPublic,
    ALL_VISIBLE: always,
    EVERYONE: always,
  };
  const listsInactive = (cell: Cell) => everyone || owner(cell);
  const inState: Record<ActiveState, (cell: Cell) => boolean> = {
    ACTIVE: not(inactive),
    INACTIVE: (cell) => inactive(cell) && listsInactive(cell),
    ALL: (cell) => !inactive(cell) || listsInactive(cell),
  };
  return [
    // MINE, SHARED_WITH_ME and EVERYONE need a caller; EVERYONE, a staff one.
    [(cell) => anonymous(cell) && (scope === 'MINE' || scope === 'SHARED_WITH_ME' || everyone), 'UNAUTHENTICATED'],
    [(cell) => everyone && !staff(cell), 'FORBIDDEN'],
    [everyone ? not(seesTemplate) : not(seesInOwnRight), 'UNLISTED'],
    [not(inScope[scope]), 'UNLISTED'],
    [not(inState[activeState]), 'UNLISTED'],
    [always, 'LISTED'],
  ];
}

// ---------------------------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------------------------

interface TemplateFixture {
  id: string;
  kind: Kind;
  /** Shared by the templates of one describe only: listings filter on it, so other templates never show. */
  tag: string;
  /** One experiment made from it by each authenticated person. */
  experiments: Record<'owner' | 'shared' | 'stranger', string>;
}

interface Context extends Cell {
  as: TestUser | null;
  users: Users;
  db: Api['db'];
  template: TemplateFixture;
  /** The owner's experiment an experiment operation acts on; its name holds its id, which `search` finds. */
  experimentId: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------------------------------------------

type Target = 'template' | 'experiment';

interface Operation {
  name: string;
  document: string;
  /** Which id the operation is about: the one a random UUID replaces in the "ids leak nothing" comparison. */
  target: Target;
  callers: Caller[];
  rules: Rules;
  /**
   * A listing of templates: no id in the request, so no random-id comparison. Listings of experiments carry the
   * experiment's id (a `search` for it), so a hidden one is compared with a random id like any other target.
   */
  listing?: boolean;
  /** The list a listing answers with. */
  listField?: 'templates' | 'experiments';
  /** The status of the owner's experiment it acts on (default draft). */
  status?: string;
  /** Changes the template or its shares when it succeeds: a template of its own for every cell. */
  destructive?: boolean;
  variables(id: string, context: Context): Record<string, unknown>;
  /** What a successful answer must hold. */
  checkOk(data: any, context: Context): void | Promise<void>;
}

type Users = Record<Exclude<Caller, 'anonymous'>, TestUser> & { bystander: TestUser };

const byId = (id: string) => ({ id });

const templateField = (name: string, selection: string, checkOk: Operation['checkOk']): Operation => ({
  name,
  document: `query($id: ID!) { template(id: $id) { id ${selection} } }`,
  target: 'template',
  callers: TEMPLATE_CALLERS,
  rules: RULES.templateRead,
  variables: byId,
  checkOk: (data, context) => {
    expect(data.template.id).toBe(context.template.id);
    return checkOk(data.template, context);
  },
});

const TEMPLATE_READS: Operation[] = [
  templateField('template', 'isActive isPublic', (template, { kind }) => {
    expect(template).toMatchObject({ isActive: KINDS[kind].isActive, isPublic: KINDS[kind].isPublic });
  }),
  templateField('template.owner', 'owner { id }', (template, { users }) => {
    expect(template.owner).toEqual({ id: users.owner.id });
  }),
  // What happened to it is its owner's business (and staff's): everyone else gets an empty trail.
  templateField(
    'template.auditTrail',
    'auditTrail { totalCount edges { node { action actor { id } } } }',
    (template, { caller, users }) => {
      const events =
        caller === 'owner' || caller === 'staff' ? [{ node: { action: 'TEMPLATE_CREATED', actor: { id: users.owner.id } } }] : [];
      expect(template.auditTrail).toEqual({ totalCount: events.length, edges: events });
    },
  ),
  // Who else has a template is the owner's business and staff's (schema: "empty unless the caller owns it or is staff").
  templateField('template.sharedWith', 'sharedWith { id }', (template, { caller, kind, users }) => {
    const seesShares = caller === 'owner' || caller === 'staff';
    expect(template.sharedWith).toEqual(seesShares && KINDS[kind].shared ? [{ id: users.shared.id }] : []);
  }),
  templateField('template.versions', 'versions { version }', (template) => {
    expect(template.versions).toEqual([{ version: 2 }, { version: 1 }]);
  }),
  templateField('template.versionSnapshot', 'versionSnapshot(version: 1) { version description }', (template) => {
    expect(template.versionSnapshot).toEqual({ version: 1, description: 'first version' });
  }),
  templateField('template.diff', 'diff(from: 1, to: 2) { op path value }', (template) => {
    expect(template.diff).toEqual([{ op: 'replace', path: '/description', value: 'second version' }]);
  }),
  // The caller's own experiments made from it; none for an anonymous caller.
  templateField('template.experiments', 'experiments { totalCount edges { node { id } } }', (template, { caller, template: fixture }) => {
    const mine = caller === 'anonymous' || caller === 'service' || caller === 'staff' ? [] : [fixture.experiments[caller]];
    expect(template.experiments.totalCount).toBe(mine.length);
    expect(template.experiments.edges.map((edge: any) => edge.node.id)).toEqual(mine);
  }),
];

const LISTINGS: Array<Operation & { scope: Scope; activeState: ActiveState }> = SCOPES.flatMap((scope) =>
  ACTIVE_STATES.map((activeState) => ({
    name: `templates(${scope}, ${activeState})`,
    scope,
    activeState,
    document: `query($filter: TemplateFilter) {
      templates(first: 100, filter: $filter) { totalCount edges { node { id } } }
    }`,
    target: 'template' as const,
    listing: true,
    callers: TEMPLATE_CALLERS,
    rules: listingRules(scope, activeState),
    variables: (_id: string, { template }: Context) => ({ filter: { tags: { allOf: [template.tag] }, scope, activeState } }),
    checkOk: () => undefined,
  })),
);

const ownerOrStaff = (name: string, document: string, variables: Operation['variables'], checkOk: Operation['checkOk']): Operation => ({
  name,
  document,
  target: 'template',
  callers: TEMPLATE_CALLERS,
  rules: RULES.ownerOrStaff,
  destructive: true,
  variables,
  checkOk,
});

const TEMPLATE_MUTATIONS: Operation[] = [
  ownerOrStaff(
    'updateTemplate',
    'mutation($id: ID!) { updateTemplate(id: $id, input: { name: "Renamed by the matrix" }) { id name version } }',
    byId,
    ({ updateTemplate }, { template }) => {
      expect(updateTemplate).toEqual({ id: template.id, name: 'Renamed by the matrix', version: 3 });
    },
  ),
  ownerOrStaff(
    'revertTemplate',
    'mutation($id: ID!) { revertTemplate(id: $id, toVersion: 1) { id description version } }',
    byId,
    ({ revertTemplate }, { template }) => {
      expect(revertTemplate).toEqual({ id: template.id, description: 'first version', version: 3 });
    },
  ),
  ownerOrStaff(
    'deactivateTemplate',
    'mutation($id: ID!) { deactivateTemplate(id: $id) { id isActive } }',
    byId,
    ({ deactivateTemplate }, { template }) => {
      expect(deactivateTemplate).toEqual({ id: template.id, isActive: false });
    },
  ),
  ownerOrStaff(
    'reactivateTemplate',
    'mutation($id: ID!) { reactivateTemplate(id: $id) { id isActive } }',
    byId,
    ({ reactivateTemplate }, { template }) => {
      expect(reactivateTemplate).toEqual({ id: template.id, isActive: true });
    },
  ),
  ownerOrStaff(
    'setTemplatePublic',
    'mutation($id: ID!, $isPublic: Boolean!) { setTemplatePublic(id: $id, isPublic: $isPublic) { id isPublic } }',
    (id, { kind }) => ({ id, isPublic: !KINDS[kind].isPublic }),
    ({ setTemplatePublic }, { template, kind }) => {
      expect(setTemplatePublic).toEqual({ id: template.id, isPublic: !KINDS[kind].isPublic });
    },
  ),
  // Someone else re-sharing it with a friend of theirs.
  {
    ...ownerOrStaff(
      'shareTemplate',
      'mutation($id: ID!, $userIds: [ID!]!) { shareTemplate(id: $id, userIds: $userIds) { id sharedWith { id } } }',
      byId,
      ({ shareTemplate }, { template, kind, users }) => {
        expect(shareTemplate.id).toBe(template.id);
        expect(shareTemplate.sharedWith).toEqual([...(KINDS[kind].shared ? [{ id: users.shared.id }] : []), { id: users.bystander.id }]);
      },
    ),
    variables: (id, { users }) => ({ id, userIds: [users.bystander.id] }),
  },
  // Someone else cutting the shared user off (the shared user leaving, too: only the owner shares and unshares).
  {
    ...ownerOrStaff(
      'unshareTemplate',
      'mutation($id: ID!, $userIds: [ID!]!) { unshareTemplate(id: $id, userIds: $userIds) { id sharedWith { id } } }',
      byId,
      ({ unshareTemplate }, { template }) => {
        expect(unshareTemplate).toEqual({ id: template.id, sharedWith: [] });
      },
    ),
    variables: (id, { users }) => ({ id, userIds: [users.shared.id] }),
  },
  ownerOrStaff('deleteTemplate', 'mutation($id: ID!) { deleteTemplate(id: $id) }', byId, async ({ deleteTemplate }, { template, db }) => {
    expect(deleteTemplate).toBe(template.id);
    expect(await db.query('select id from experiment_templates where id = $1', [template.id])).toEqual([]);
    // Experiments keep their data and lose the link.
    const experiments = await db.query('select template_id, template_version from ml_experiments where id = any($1::uuid[])', [
      Object.values(template.experiments),
    ]);
    expect(experiments).toEqual(Object.values(template.experiments).map(() => ({ template_id: null, template_version: 1 })));
  }),
  // To a bystander: the template leaves its owner.
  {
    ...ownerOrStaff(
      'transferTemplate',
      'mutation($id: ID!, $toUserId: ID!) { transferTemplate(id: $id, toUserId: $toUserId) { id owner { id } } }',
      byId,
      async ({ transferTemplate }, { template, users, db }) => {
        expect(transferTemplate).toEqual({ id: template.id, owner: { id: users.bystander.id } });
        const [event] = await db.query<{ details: unknown }>(
          `select details from audit_events where subject_id = $1 and action = 'template.transferred'`,
          [template.id],
        );
        expect(event.details).toEqual({ from: users.owner.id, to: users.bystander.id });
      },
    ),
    variables: (id, { users }) => ({ id, toUserId: users.bystander.id }),
  },
  {
    name: 'cloneTemplate',
    document: 'mutation($id: ID!) { cloneTemplate(id: $id) { id version isPublic isActive owner { id } } }',
    target: 'template',
    callers: TEMPLATE_CALLERS,
    rules: RULES.clone,
    variables: byId,
    checkOk: ({ cloneTemplate }, { template, as }) => {
      expect(cloneTemplate.id).not.toBe(template.id);
      expect(cloneTemplate).toMatchObject({ version: 1, isPublic: false, isActive: true, owner: { id: as!.id } });
    },
  },
  {
    name: 'createExperimentFromTemplate',
    document: `mutation($input: CreateExperimentFromTemplateInput!) {
      createExperimentFromTemplate(input: $input) { id templateVersion owner { id } template { id } }
    }`,
    target: 'template',
    callers: TEMPLATE_CALLERS,
    rules: RULES.use,
    variables: (templateId) => ({ input: { templateId, name: 'From the matrix' } }),
    checkOk: ({ createExperimentFromTemplate }, { template, as }) => {
      expect(createExperimentFromTemplate).toMatchObject({ templateVersion: 2, owner: { id: as!.id }, template: { id: template.id } });
    },
  },
];

const EXPERIMENT_SELECTION = 'id owner { id } template { id }';
const experimentOp = (
  name: string,
  document: string,
  rules: Rules,
  variables: Operation['variables'],
  checkOk: Operation['checkOk'],
): Operation => ({
  name,
  document,
  target: 'experiment',
  callers: EXPERIMENT_CALLERS,
  rules,
  variables,
  checkOk: (data, context) => {
    const experiment = data[name];
    expect(experiment.id).toBe(context.experimentId);
    expect(experiment.owner).toEqual({ id: context.users.owner.id });
    // Its template shows only to those who may see the template (a service token sees public ones only).
    expect(experiment.template).toEqual(seesTemplate(context) ? { id: context.template.id } : null);
    return checkOk(experiment, context);
  },
});

const EXPERIMENT_OPERATIONS: Operation[] = [
  experimentOp(
    'experiment',
    `query($id: ID!) { experiment(id: $id) { ${EXPERIMENT_SELECTION} } }`,
    RULES.experimentRead,
    byId,
    () => undefined,
  ),
  experimentOp(
    'saveWizardStep',
    `mutation($id: ID!) { saveWizardStep(id: $id, input: { step: 1, state: { at: "matrix" } }) { ${EXPERIMENT_SELECTION} wizardStepCompleted wizardState } }`,
    RULES.wizard,
    byId,
    (experiment) => expect(experiment).toMatchObject({ wizardStepCompleted: 1, wizardState: { at: 'matrix' } }),
  ),
  experimentOp(
    'completeWizard',
    `mutation($id: ID!) { completeWizard(id: $id) { ${EXPERIMENT_SELECTION} wizardCompleted status } }`,
    RULES.wizard,
    byId,
    (experiment) => expect(experiment).toMatchObject({ wizardCompleted: true, status: 'queued' }),
  ),
  experimentOp(
    'writeAnalysisMetadata',
    `mutation($id: ID!) { writeAnalysisMetadata(id: $id, input: { datasetStatistics: { rows: 10 } }) { ${EXPERIMENT_SELECTION} datasetStatistics } }`,
    RULES.analysis,
    byId,
    (experiment) => expect(experiment.datasetStatistics).toEqual({ rows: 10 }),
  ),
  experimentOp(
    'recordTrainingTime',
    `mutation($id: ID!) { recordTrainingTime(id: $id, actualTrainingSeconds: 60) { ${EXPERIMENT_SELECTION} actualTrainingSeconds } }`,
    RULES.analysis,
    byId,
    (experiment) => expect(experiment.actualTrainingSeconds).toBe(60),
  ),
  experimentOp(
    'updateExperiment',
    `mutation($id: ID!) { updateExperiment(id: $id, input: { name: "Renamed by the matrix", description: null }) { ${EXPERIMENT_SELECTION} name } }`,
    RULES.experimentOwnerOnly,
    byId,
    (experiment) => expect(experiment.name).toBe('Renamed by the matrix'),
  ),
  {
    name: 'deleteExperiment',
    document: 'mutation($id: ID!) { deleteExperiment(id: $id) }',
    target: 'experiment',
    callers: EXPERIMENT_CALLERS,
    rules: RULES.experimentOwnerOnly,
    variables: byId,
    checkOk: async ({ deleteExperiment }, { experimentId, db }) => {
      expect(deleteExperiment).toBe(experimentId);
      expect(await db.query('select id from ml_experiments where id = $1', [experimentId])).toEqual([]);
    },
  },
  ...(
    [
      ['cancel', 'queued', 'CANCELLED', RULES.cancel],
      ['start', 'queued', 'RUNNING', RULES.run],
      ['complete', 'running', 'COMPLETED', RULES.run],
      ['fail', 'running', 'FAILED', RULES.run],
    ] as const
  ).map(([what, status, to, rules]): Operation => ({
    ...experimentOp(
      'changeExperimentStatus',
      `mutation($id: ID!) { changeExperimentStatus(id: $id, to: ${to}) { ${EXPERIMENT_SELECTION} status } }`,
      rules,
      byId,
      (experiment) => expect(experiment.status).toBe(to.toLowerCase()),
    ),
    name: `changeExperimentStatus(${what}: ${status} to ${to})`,
    status,
  })),
];

/** The experiment's own search term (its id, in its name) with each filter and ordering of `experiments`. */
const EXPERIMENT_LISTINGS: Operation[] = (
  [
    ['no other filter', () => ({}), RULES.experimentListing],
    ['statuses', () => ({ filter: { statuses: ['draft', 'queued'] } }), RULES.experimentListing],
    ['status (deprecated)', () => ({ filter: { status: 'draft' } }), RULES.experimentListing],
    ['ownerId', ({ users }: Context) => ({ filter: { ownerId: users.owner.id } }), RULES.experimentListing],
    ['createdAt', () => ({ filter: { createdAt: { from: new Date(Date.now() - 3_600_000).toISOString() } } }), RULES.experimentListing],
    ['updatedAt', () => ({ filter: { updatedAt: { to: new Date(Date.now() + 3_600_000).toISOString() } } }), RULES.experimentListing],
    ['wizardCompleted', () => ({ filter: { wizardCompleted: false } }), RULES.experimentListing],
    ['configuration', () => ({ filter: { configuration: { paths: [{ path: '/model/type', exists: true }] } } }), RULES.experimentListing],
    ['templateIds', ({ template }: Context) => ({ filter: { templateIds: [template.id] } }), RULES.experimentListingByTemplate],
    ['templateId', ({ template }: Context) => ({ filter: { templateId: template.id } }), RULES.experimentListingByTemplate],
    ['templateCategory', () => ({ filter: { templateCategory: 'CLASSIFICATION' } }), RULES.experimentListingByTemplate],
    ...['CREATED_AT', 'UPDATED_AT', 'NAME', 'STATUS'].map(
      (field) => [`orderBy ${field}`, () => ({ orderBy: { field, direction: 'ASC' } }), RULES.experimentListing] as const,
    ),
  ] as const
).map(([label, extra, rules]): Operation => ({
  name: `experiments(${label})`,
  document: `query($filter: ExperimentFilter, $orderBy: ExperimentOrder) {
      experiments(first: 100, filter: $filter, orderBy: $orderBy) { totalCount edges { node { id } } }
    }`,
  target: 'experiment',
  callers: EXPERIMENT_CALLERS,
  rules,
  listField: 'experiments',
  variables: (id, context) => {
    const { filter, ...rest } = extra(context) as { filter?: Record<string, unknown> };
    return { ...rest, filter: { ...filter, search: id } };
  },
  checkOk: () => undefined,
}));

interface MatrixCell extends Cell {
  op: string;
  /** The template kind with its article, for the test's title. */
  template: string;
  expected: Outcome;
  hidden: boolean;
}

function cellsOf(operations: Operation[]): MatrixCell[] {
  return operations.flatMap((operation) =>
    ALL_KINDS.flatMap((kind) =>
      operation.callers.map((caller) => {
        const cell = { caller, kind };
        const hidden = operation.target === 'template' ? !seesTemplate(cell) : !seesExperiment(cell);
        const template = `${/^[aeiou]/i.test(kind) ? 'an' : 'a'} ${kind} template`;
        return { op: operation.name, template, kind, caller, expected: outcomeOf(operation.rules, cell), hidden };
      }),
    ),
  );
}

describe('access matrix over HTTP', () => {
  const api = useApi();
  let users: Users;

  beforeAll(async () => {
    const [owner, shared, stranger, service, staff, bystander] = await Promise.all([
      api.user('owner'),
      api.user('shared'),
      api.user('stranger'),
      api.user('analysis-service', ['service']),
      api.user('staff', ['admin']),
      api.user('bystander'),
    ]);
    users = { owner, shared, stranger, service, staff, bystander };
  });

  const answers = new Map<string, Promise<GraphqlResponse>>();
  /** No row has this id: what every caller gets for an operation on something that does not exist. */
  const UNKNOWN_ID = randomUUID();

  const as = (caller: Caller): TestUser | null => (caller === 'anonymous' ? null : users[caller]);

  /**
   * A template of one kind at version 2 (description 'first version' → 'second version'), with its shares, its experiments
   * and the audit event of its creation.
   */
  async function templateOf(kind: Kind, tag = newTag()): Promise<TemplateFixture> {
    const spec = KINDS[kind];
    const id = randomUUID();
    const people = ['owner', 'shared', 'stranger'] as const;
    // One statement: the cells that need a template of their own pay one round trip for it.
    const rows = await api.db.query<{ id: string; owner_id: string }>(
      `with template as (
         insert into experiment_templates (id, name, description, category, tags, configuration, version, is_active, is_public, created_by)
         values ($1, $2, 'second version', 'classification', $3, $4, 2, $5, $6, $7)
         returning *
       ), versions as (
         insert into experiment_template_versions (template_id, version, name, description, category, tags, configuration, created_by, change_note)
         select t.id, v.version, t.name, v.description, t.category, t.tags, t.configuration, t.created_by, v.note
         from template t, (values (1, 'first version', 'Created'), (2, 'second version', null)) as v(version, description, note)
       ), shares as (
         insert into experiment_template_shares (template_id, user_id, shared_by)
         select t.id, $8, t.created_by from template t where $9
       ), created as (
         insert into audit_events (request_id, actor_id, actor_kind, action, subject_type, subject_id)
         select gen_random_uuid(), t.created_by, 'user', 'template.created', 'template', t.id from template t
       )
       insert into ml_experiments (name, owner_id, template_id, template_version, status, configuration)
       select 'Matrix experiment', person, t.id, 1, 'draft', $4 from template t, unnest($10::uuid[]) as person
       returning id, owner_id`,
      [
        id,
        `A ${kind} template`,
        JSON.stringify([tag]),
        validConfiguration(),
        spec.isActive,
        spec.isPublic,
        users.owner.id,
        users.shared.id,
        spec.shared,
        people.map((person) => users[person].id),
      ],
    );
    const experimentOfUser = new Map(rows.map((row) => [row.owner_id, row.id]));
    const experiments = Object.fromEntries(people.map((person) => [person, experimentOfUser.get(users[person].id)!]));
    return { id, kind, tag, experiments: experiments as TemplateFixture['experiments'] };
  }

  /** One template of every kind, under one tag of their own. */
  async function worldOf(): Promise<Record<Kind, TemplateFixture>> {
    const tag = newTag();
    const world = {} as Record<Kind, TemplateFixture>;
    for (const kind of ALL_KINDS) world[kind] = await templateOf(kind, tag);
    return world;
  }

  /**
   * An experiment with a complete configuration, made from `templateId` at version 1, a draft unless `status` says
   * otherwise; its name holds its id, so a `search` for the id finds it and nothing else.
   */
  async function experimentOf(user: TestUser, templateId: string, status = 'draft'): Promise<string> {
    const id = randomUUID();
    await api.db.query(
      `insert into ml_experiments (id, name, owner_id, template_id, template_version, status, configuration)
       values ($1::uuid, 'Matrix experiment ' || $1::text, $2, $3, 1, $4, $5)`,
      [id, user.id, templateId, status, validConfiguration()],
    );
    return id;
  }

  /** What a cell may change: the template with its history, shares and experiments, and the size of every table. */
  async function stateOf(templateId: string, experimentId: string) {
    const [state] = await api.db.query(
      `select
         (select to_jsonb(t) from experiment_templates t where t.id = $1) as template,
         (select jsonb_agg(v order by v.version) from experiment_template_versions v where v.template_id = $1) as versions,
         (select jsonb_agg(s order by s.user_id) from experiment_template_shares s where s.template_id = $1) as shares,
         (select jsonb_agg(e order by e.id) from ml_experiments e where e.template_id = $1 or e.id = $2) as experiments,
         (select jsonb_agg(a order by a.id) from audit_events a where a.subject_id in ($1, $2)) as audit_events,
         (select count(*) from experiment_templates) as templates_count,
         (select count(*) from experiment_template_versions) as versions_count,
         (select count(*) from experiment_template_shares) as shares_count,
         (select count(*) from ml_experiments) as experiments_count,
         (select count(*) from users) as users_count,
         (select count(*) from audit_events) as audit_events_count`,
      [templateId, experimentId],
    );
    return state;
  }

  /**
   * Runs one cell: the outcome its rules give, nothing written when refused, and for a hidden target the very
   * answer a random UUID gets.
   */
  async function runCell(operation: Operation, cell: MatrixCell, template: TemplateFixture, experimentId: string) {
    const context: Context = { caller: cell.caller, kind: cell.kind, as: as(cell.caller), users, db: api.db, template, experimentId };
    const targetId = operation.target === 'template' ? template.id : experimentId;
    const send = (id: string) => api.graphql(operation.document, { as: context.as, variables: operation.variables(id, context) });
    /**
     * For answers that cannot depend on the cell: a listing (read-only, over the describe's templates; each cell then
     * checks its own kind in it) and the answer for an id that does not exist.
     */
    const sendOnce = (id: string) => {
      const key = JSON.stringify([cell.caller, operation.document, operation.variables(id, context)]);
      if (!answers.has(key)) answers.set(key, send(id));
      return answers.get(key)!;
    };

    const refusedMutation = operation.document.trimStart().startsWith('mutation') && cell.expected !== 'OK';
    const before = refusedMutation ? await stateOf(template.id, experimentId) : undefined;
    const response = await (operation.listing ? sendOnce : send)(targetId);
    await expectOutcome(operation, cell.expected, response, context);
    if (refusedMutation) expect(await stateOf(template.id, experimentId)).toEqual(before);

    if (cell.hidden && !operation.listing) {
      expect(JSON.stringify(response.body)).not.toContain(targetId);
      const unknown = await sendOnce(UNKNOWN_ID);
      expect(response).toEqual(unknown);
    }
  }

  async function expectOutcome(operation: Operation, expected: Outcome, response: GraphqlResponse, context: Context) {
    switch (expected) {
      case 'OK':
        await operation.checkOk(dataOf(response), context);
        break;
      case 'NULL':
        expect(response.body).toEqual({ data: { [operation.target]: null } });
        break;
      case 'LISTED':
      case 'UNLISTED': {
        const list = dataOf(response)[operation.listField ?? 'templates'];
        const ids = list.edges.map((edge: any) => edge.node.id);
        const listed = operation.listField === 'experiments' ? context.experimentId : context.template.id;
        expect(ids.includes(listed)).toBe(expected === 'LISTED');
        expect(new Set(ids).size).toBe(ids.length);
        expect(list.totalCount).toBe(ids.length);
        break;
      }
      default:
        expect(response.body.errors).toHaveLength(1);
        expect(errorOf(response).code).toBe(expected);
    }
  }

  describe('template queries and fields', () => {
    let templates: Record<Kind, TemplateFixture>;
    beforeAll(async () => {
      templates = await worldOf();
    });

    const operations = new Map([...TEMPLATE_READS, ...LISTINGS].map((operation) => [operation.name, operation]));
    it.each(cellsOf([...operations.values()]))('$op on $template, as $caller: $expected', async (cell) => {
      const template = templates[cell.kind];
      await runCell(operations.get(cell.op)!, cell, template, template.experiments.owner);
    });
  });

  describe('template mutations', () => {
    // Clone and use change nothing of the template but its usage: one shared template per kind.
    let shared: Record<Kind, TemplateFixture>;
    beforeAll(async () => {
      shared = await worldOf();
    });

    const operations = new Map(TEMPLATE_MUTATIONS.map((operation) => [operation.name, operation]));
    it.each(cellsOf(TEMPLATE_MUTATIONS))('$op on $template, as $caller: $expected', async (cell) => {
      const operation = operations.get(cell.op)!;
      const template = operation.destructive ? await templateOf(cell.kind) : shared[cell.kind];
      await runCell(operation, cell, template, template.experiments.owner);
    });
  });

  describe("experiment operations on the owner's experiment", () => {
    let templates: Record<Kind, TemplateFixture>;
    beforeAll(async () => {
      templates = await worldOf();
    });

    const all = [...EXPERIMENT_OPERATIONS, ...EXPERIMENT_LISTINGS];
    const operations = new Map(all.map((operation) => [operation.name, operation]));
    it.each(cellsOf(all))('$op on an experiment from $template, as $caller: $expected', async (cell) => {
      const template = templates[cell.kind];
      const operation = operations.get(cell.op)!;
      // Every cell gets a fresh experiment of the owner's: the wizard and the lifecycle move only forwards.
      const experimentId = await experimentOf(users.owner, template.id, operation.status);
      await runCell(operation, cell, template, experimentId);
    });
  });
});
