import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ApolloClient, gql, HttpLink, InMemoryCache } from '@apollo/client';
import { getNamedType, isObjectType, Kind, parse, TypeInfo, visit, visitWithTypeInfo } from 'graphql';
import { buildAppSchema } from '../src/graphql/schema';
import { dataOf, useApi } from './support/api';

interface Example {
  name: string;
  query: string;
  variables: Record<string, unknown>;
  /** Marked `# As staff` in the README: sent with a staff token (roles: ["admin"]). */
  asStaff: boolean;
  /** Marked `# As a service` in the README: sent with a service token (roles: ["service"]). */
  asService: boolean;
}

/** The README's GraphQL operations, each with the JSON block that follows it as its variables. */
function readmeExamples(): Example[] {
  const readme = readFileSync(path.resolve(__dirname, '../README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```(graphql|json)\n([\s\S]*?)```/g)].map(([, kind, body]) => ({ kind, body }));
  const examples: Example[] = [];
  blocks.forEach((block, index) => {
    if (block.kind !== 'graphql') return;
    const next = blocks[index + 1];
    const name = /^(?:query|mutation)\s+(\w+)/m.exec(block.body)?.[1];
    if (!name) throw new Error(`README operation without a name:\n${block.body}`);
    examples.push({
      name,
      query: block.body,
      variables: next?.kind === 'json' ? JSON.parse(next.body) : {},
      asStaff: /^# As staff$/m.test(block.body),
      asService: /^# As a service$/m.test(block.body),
    });
  });
  return examples;
}

/** Replaces every `"{{Operation.path.to.value}}"` with that value from an earlier answer. */
function resolvePlaceholders(value: unknown, answers: Record<string, unknown>): unknown {
  if (typeof value === 'string') {
    const match = /^\{\{(\w+)\.(.+)\}\}$/.exec(value);
    if (!match) return value;
    const found = match[2].split('.').reduce<any>((node, key) => node?.[key], answers[match[1]]);
    if (found === undefined) throw new Error(`README placeholder ${value} has no value`);
    return found;
  }
  if (Array.isArray(value)) return value.map((item) => resolvePlaceholders(item, answers));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, resolvePlaceholders(item, answers)]));
  }
  return value;
}

describe('README example operations', () => {
  const api = useApi();
  const examples = readmeExamples();

  it("has the wizard flow, the audit trail, the experiment's life, teams and staff administration", () => {
    expect(examples.map((e) => e.name)).toEqual([
      'CreateTemplate',
      'PickTemplate',
      'FindByConfiguration',
      'ValidateModelStep',
      'CreateDraft',
      'SaveStep',
      'Complete',
      'Trending',
      'EditTemplate',
      'History',
      'ConfigurationSchemas',
      'TemplatesBehind',
      'UpgradeTemplateSchema',
      'ExportTemplate',
      'ImportTemplate',
      'ShareByEmail',
      'UserByEmail',
      'AuditTrail',
      'AuditEvents',
      'MyExperiments',
      'Queue',
      'StartRun',
      'FinishRun',
      'RenameExperiment',
      'FindExperiments',
      'DeleteExperiment',
      'CreateTeam',
      'ShareWithTeam',
      'StaffMember',
      'AddMembers',
      'MyTeams',
      'FollowGroup',
      'DisbandTeam',
      'StaffFindTemplates',
      'StaffEditTemplate',
      'StaffDeactivateTemplate',
      'StaffDeleteTemplate',
      'StaffTransferTemplate',
      'StaffActions',
    ]);
    expect(examples.filter((e) => e.asStaff).map((e) => e.name)).toEqual([
      'AuditEvents',
      'FindExperiments',
      'StaffMember',
      'FollowGroup',
      'StaffFindTemplates',
      'StaffEditTemplate',
      'StaffDeactivateTemplate',
      'StaffDeleteTemplate',
      'StaffTransferTemplate',
      'StaffActions',
    ]);
    expect(examples.filter((e) => e.asService).map((e) => e.name)).toEqual(['Queue', 'StartRun', 'FinishRun']);
  });

  it('select the id of every object that has one, as a normalised client cache needs', async () => {
    const schema = await buildAppSchema();
    const missing: string[] = [];
    for (const example of examples) {
      const typeInfo = new TypeInfo(schema);
      visit(
        parse(example.query),
        visitWithTypeInfo(typeInfo, {
          SelectionSet(selectionSet) {
            const type = getNamedType(typeInfo.getType());
            if (!isObjectType(type) || !type.getFields().id) return;
            const selectsId = selectionSet.selections.some((selection) => selection.kind === Kind.FIELD && selection.name.value === 'id');
            if (!selectsId) missing.push(`${example.name}: ${type.name}`);
          },
        }),
      );
    }
    expect(missing).toEqual([]);
  });

  it('run in order, as written, without errors and with the answers they describe', async () => {
    const user = await api.user('readme');
    const staff = await api.user('readme-staff', ['admin']);
    const service = await api.user('readme-scheduler', ['service']);
    const answers: Record<string, any> = {};
    for (const example of examples) {
      const response = await api.graphql(example.query, {
        as: example.asStaff ? staff : example.asService ? service : user,
        variables: resolvePlaceholders(example.variables, answers) as Record<string, unknown>,
      });
      answers[example.name] = dataOf(response);
    }
    expect(answers.PickTemplate.templates.edges[0].node.name).toBe('Churn classifier');
    expect(answers.FindByConfiguration.templates.edges.map((edge: { node: { name: string } }) => edge.node.name)).toEqual([
      'Churn classifier',
    ]);
    expect(answers.ValidateModelStep.validateConfiguration).toEqual({ valid: true, errors: [] });
    expect(answers.CreateDraft.createExperimentFromTemplate.configuration.dataset.source).toBe('s3://demo/churn_eu.parquet');
    expect(answers.Complete.completeWizard).toMatchObject({ status: 'queued', wizardCompleted: true, template: { usageCount: 1 } });
    const [trending] = answers.Trending.templates.edges.map((edge: { node: unknown }) => edge.node);
    expect(trending).toMatchObject({ name: 'Churn classifier', usageCount: 1 });
    expect(trending.usage.map((point: { start: string }) => point.start)).toEqual(
      Array.from({ length: 12 }, (_, month) => `2026-${String(month + 1).padStart(2, '0')}-01`),
    );
    expect(answers.History.template.version).toBe(2);
    expect(answers.History.template.diff).toEqual([{ op: 'replace', path: '/configuration/model/hyperparameters/maxDepth', value: 8 }]);
    expect(answers.History.experiment).toMatchObject({ templateVersion: 1, hasNewerTemplateVersion: true });
    expect(answers.ExportTemplate.exportTemplate.history.map((version: { version: number }) => version.version)).toEqual([1, 2]);
    expect(answers.ImportTemplate.importTemplate).toMatchObject({ version: 1, isPublic: false, versions: [{ version: 1 }] });
    expect(answers.ImportTemplate.importTemplate.id).not.toBe(answers.CreateTemplate.createTemplate.id);
    expect(answers.ShareByEmail.shareTemplate).toMatchObject({
      sharedWith: [],
      pendingShares: [{ email: 'new.colleague@example.com', invitedAt: expect.any(String) }],
    });
    expect(answers.UserByEmail.userByEmail).toBeNull();
    const trail = answers.AuditTrail.template.auditTrail;
    expect(trail.totalCount).toBe(2);
    expect(trail.edges.map((edge: { node: unknown }) => edge.node)).toEqual([
      expect.objectContaining({
        action: 'TEMPLATE_UPDATED',
        actorKind: 'USER',
        details: { fromVersion: 1, toVersion: 2, changed: ['configuration'] },
      }),
      expect.objectContaining({ action: 'TEMPLATE_CREATED', actorKind: 'USER', details: { name: 'Churn classifier' } }),
    ]);
    // Staff see every user's email; the draft's two events among its three (its wizard step is filtered out).
    expect(answers.AuditEvents.auditEvents.edges.map((edge: { node: unknown }) => edge.node)).toEqual([
      expect.objectContaining({
        action: 'EXPERIMENT_STATUS_CHANGED',
        actor: { id: user.id, displayName: expect.any(String), email: user.email },
        details: { from: 'draft', to: 'queued', wizardCompleted: true },
      }),
      expect.objectContaining({ action: 'EXPERIMENT_CREATED', subjectType: 'EXPERIMENT', actorKind: 'USER' }),
    ]);
    // The experiment's life: found by its owner, queued for the scheduler, run, renamed, found by staff, deleted.
    const experimentId = answers.CreateDraft.createExperimentFromTemplate.id;
    expect(answers.MyExperiments.experiments.edges.map((edge: { node: { id: string } }) => edge.node.id)).toEqual([experimentId]);
    expect(answers.Queue.experiments.edges.map((edge: { node: { id: string } }) => edge.node.id)).toContain(experimentId);
    expect(answers.StartRun.changeExperimentStatus).toMatchObject({ status: 'running', startedAt: expect.any(String) });
    expect(answers.FinishRun.changeExperimentStatus).toMatchObject({
      status: 'completed',
      startedAt: answers.StartRun.changeExperimentStatus.startedAt,
      finishedAt: expect.any(String),
    });
    expect(answers.RenameExperiment.updateExperiment).toMatchObject({ name: 'Churn, EU customers (baseline)', status: 'completed' });
    expect(answers.FindExperiments.experiments.edges).toEqual([
      { node: expect.objectContaining({ id: experimentId, owner: expect.objectContaining({ id: user.id, email: user.email }) }) },
    ]);
    expect(answers.DeleteExperiment.deleteExperiment).toBe(experimentId);
    // Staff found the user's two churn templates (the imported copy is private), edited, deactivated and deleted the
    // copy, and took the original over: each a staff action of theirs.
    const found = answers.StaffFindTemplates.templates;
    expect(found.totalCount).toBe(2);
    expect(found.edges.map((edge: { node: { id: string } }) => edge.node.id).sort()).toEqual(
      [answers.CreateTemplate.createTemplate.id, answers.ImportTemplate.importTemplate.id].sort(),
    );
    expect(found.edges.every((edge: { node: { owner: { id: string } } }) => edge.node.owner.id === user.id)).toBe(true);
    expect(answers.StaffEditTemplate.updateTemplate).toMatchObject({
      version: 2,
      versions: [{ version: 2, changeNote: 'Says which bucket the data comes from', createdBy: { id: staff.id } }],
    });
    expect(answers.StaffDeactivateTemplate.deactivateTemplate.isActive).toBe(false);
    expect(answers.StaffTransferTemplate.transferTemplate.owner.id).toBe(staff.id);
    expect(answers.StaffActions.auditEvents.edges.map((edge: { node: unknown }) => edge.node)).toEqual([
      expect.objectContaining({ action: 'TEMPLATE_TRANSFERRED', actorKind: 'STAFF', details: { from: user.id, to: staff.id } }),
      expect.objectContaining({ action: 'TEMPLATE_DELETED', actorKind: 'STAFF', subjectId: answers.ImportTemplate.importTemplate.id }),
      expect.objectContaining({ action: 'TEMPLATE_DEACTIVATED', actorKind: 'STAFF' }),
      expect.objectContaining({
        action: 'TEMPLATE_UPDATED',
        actorKind: 'STAFF',
        details: { fromVersion: 1, toVersion: 2, changed: ['description'] },
      }),
      // Earlier, in Teams: the group the user's team follows.
      expect.objectContaining({ action: 'TEAM_EXTERNAL_ID_CHANGED', actorKind: 'STAFF', details: { from: null, to: 'churn-squad' } }),
    ]);
    const team = answers.CreateTeam.createTeam;
    expect(team.members).toEqual([{ role: 'MAINTAINER', user: { id: user.id, displayName: expect.any(String) } }]);
    expect(answers.ShareWithTeam.shareTemplateWithTeams.sharedWithTeams).toEqual([{ id: team.id, name: 'Churn squad' }]);
    // The staff member's email is theirs and staff's to see: the maintainer who added them sees null.
    expect(answers.AddMembers.addTeamMembers.members).toEqual([
      { role: 'MAINTAINER', user: { id: user.id, email: user.email } },
      { role: 'MAINTAINER', user: { id: staff.id, email: null } },
    ]);
    expect(answers.MyTeams.myTeams).toEqual([expect.objectContaining({ id: team.id, name: 'Churn squad', externalId: null })]);
    expect(answers.FollowGroup.setTeamExternalId).toEqual({ id: team.id, externalId: 'churn-squad' });
    expect(answers.DisbandTeam.deleteTeam).toBe(team.id);
  });

  it('run through a normalised client cache: each answer updates what is watched, with no request but its own', async () => {
    const user = await api.user('readme-client');
    const staff = await api.user('readme-client-staff', ['admin']);
    const service = await api.user('readme-client-scheduler', ['service']);
    let requests = 0;
    const client = new ApolloClient({
      cache: new InMemoryCache(),
      link: new HttpLink({
        uri: api.url,
        headers: { authorization: `Bearer ${user.token}` },
        fetch: (input, init) => {
          requests += 1;
          return fetch(input, init);
        },
      }),
    });
    const warnings: unknown[][] = [];
    const warn = jest.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => void warnings.push(args));
    const watched: Array<{ current: () => any; stop: () => void }> = [];
    const watch = async (query: string, variables: Record<string, unknown>) => {
      const observable = client.watchQuery({ query: gql(query), variables });
      const subscription = observable.subscribe(() => undefined);
      await new Promise<void>((resolve) => {
        const check = () => (observable.getCurrentResult().dataState === 'complete' ? resolve() : setTimeout(check, 5));
        check();
      });
      watched.push({ current: () => observable.getCurrentResult().data, stop: () => subscription.unsubscribe() });
      return () => observable.getCurrentResult().data as any;
    };

    try {
      const answers: Record<string, any> = {};
      let watchedTemplate: (() => any) | undefined;
      let watchedExperiment: (() => any) | undefined;
      let operations = 0;
      for (const example of examples) {
        const document = gql(example.query);
        const variables = resolvePlaceholders(example.variables, answers) as Record<string, unknown>;
        const isMutation = /^(?:\s*#.*\n)*\s*mutation/.test(example.query);
        // Staff's and services' operations carry their token in their own request's headers, over the link's.
        const token = example.asStaff ? staff.token : example.asService ? service.token : undefined;
        const context = token ? { headers: { authorization: `Bearer ${token}` } } : undefined;
        const result = isMutation
          ? await client.mutate({ mutation: document, variables, context })
          : await client.query({ query: document, variables, fetchPolicy: 'network-only', context });
        operations += 1;
        answers[example.name] = result.data;
        if (example.name === 'CreateTemplate') {
          watchedTemplate = await watch('query WatchedTemplate($id: ID!) { template(id: $id) { id name version usageCount } }', {
            id: answers.CreateTemplate.createTemplate.id,
          });
          operations += 1;
        }
        if (example.name === 'CreateDraft') {
          watchedExperiment = await watch(
            'query WatchedExperiment($id: ID!) { experiment(id: $id) { id status wizardStepCompleted template { id name usageCount } } }',
            { id: answers.CreateDraft.createExperimentFromTemplate.id },
          );
          operations += 1;
        }
      }

      // One request per operation: no answer left a watched query incomplete, so none went back to the network.
      expect(requests).toBe(operations);
      // EditTemplate's answer ({ id version }) moved the watched template to version 2; Complete's moved the experiment
      // to queued and the template it came from (the one PickTemplate found first) to its new usage count; the run's
      // answers moved it on to completed (its deletion answers an id, which leaves the cached object as it was).
      expect(watchedTemplate!()).toMatchObject({ template: { id: answers.CreateTemplate.createTemplate.id, version: 2 } });
      expect(watchedExperiment!()).toMatchObject({
        experiment: {
          status: 'completed',
          wizardStepCompleted: 2,
          template: {
            id: answers.PickTemplate.templates.edges[0].node.id,
            usageCount: answers.Complete.completeWizard.template.usageCount,
          },
        },
      });
      expect(answers.Complete.completeWizard.template.usageCount).toBeGreaterThan(0);
      expect(warnings).toEqual([]);
    } finally {
      for (const { stop } of watched) stop();
      warn.mockRestore();
      client.stop();
    }
  });
});
