import { readFileSync } from 'node:fs';
import path from 'node:path';
import { getNamedType, isObjectType, Kind, parse, TypeInfo, visit, visitWithTypeInfo } from 'graphql';
import { buildAppSchema } from '../src/graphql/schema';
import { dataOf, useApi } from './support/api';

interface Example {
  name: string;
  query: string;
  variables: Record<string, unknown>;
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
    examples.push({ name, query: block.body, variables: next?.kind === 'json' ? JSON.parse(next.body) : {} });
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

  it('has the wizard flow', () => {
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
    ]);
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
    const answers: Record<string, any> = {};
    for (const example of examples) {
      const response = await api.graphql(example.query, {
        as: user,
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
    expect(answers.History.experiment).toMatchObject({ templateVersion: 1, hasNewerTemplateVersion: true });
    expect(answers.ExportTemplate.exportTemplate.history.map((version: { version: number }) => version.version)).toEqual([1, 2]);
    expect(answers.ImportTemplate.importTemplate).toMatchObject({ version: 1, isPublic: false, versions: [{ version: 1 }] });
    expect(answers.ImportTemplate.importTemplate.id).not.toBe(answers.CreateTemplate.createTemplate.id);
  });
});
