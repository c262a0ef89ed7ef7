import { readFileSync } from 'node:fs';
import path from 'node:path';
import { dataOf, useApi } from './support/api';

interface Example {
  name: string;
  query: string;
  variables: Record<string, unknown>;
  /** Marked `# As staff` in the README: sent with a staff token (roles: ["admin"]). */
  asStaff: boolean;
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

  it('has the wizard flow and the audit trail', () => {
    expect(examples.map((e) => e.name)).toEqual([
      'CreateTemplate',
      'PickTemplate',
      'FindByConfiguration',
      'ValidateModelStep',
      'CreateDraft',
      'SaveStep',
      'Complete',
      'EditTemplate',
      'History',
      'ExportTemplate',
      'ImportTemplate',
      'AuditTrail',
      'AuditEvents',
    ]);
    expect(examples.filter((e) => e.asStaff).map((e) => e.name)).toEqual(['AuditEvents']);
  });

  it('run in order, as written, without errors and with the answers they describe', async () => {
    const user = await api.user('readme');
    const staff = await api.user('readme-staff', ['admin']);
    const answers: Record<string, any> = {};
    for (const example of examples) {
      const response = await api.graphql(example.query, {
        as: example.asStaff ? staff : user,
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
    expect(answers.History.template.version).toBe(2);
    expect(answers.History.template.diff).toEqual([{ op: 'replace', path: '/configuration/model/hyperparameters/maxDepth', value: 8 }]);
    expect(answers.History.experiment).toEqual({ templateVersion: 1, hasNewerTemplateVersion: true });
    expect(answers.ExportTemplate.exportTemplate.history.map((version: { version: number }) => version.version)).toEqual([1, 2]);
    expect(answers.ImportTemplate.importTemplate).toMatchObject({ version: 1, isPublic: false, versions: [{ version: 1 }] });
    expect(answers.ImportTemplate.importTemplate.id).not.toBe(answers.CreateTemplate.createTemplate.id);
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
        actor: { displayName: expect.any(String), email: user.email },
        details: { from: 'draft', to: 'queued', wizardCompleted: true },
      }),
      expect.objectContaining({ action: 'EXPERIMENT_CREATED', subjectType: 'EXPERIMENT', actorKind: 'USER' }),
    ]);
  });
});
