import { randomUUID } from 'node:crypto';
import { configurationSchemaOf } from '../../src/template/configuration-schema';
import { dataOf, errorOf, useApi } from '../support/api';
import { auditEventsOf, createTemplateViaApi, insertTemplates, uniqueTag, validConfiguration, type TestUser } from '../support/factories';

/** Valid at version 1 only: version 1 kept resource needs among the free-form parameters. */
const V1_ONLY = validConfiguration({ parameters: { seed: 1, gpus: 2, memoryGb: 64 } });
/** Valid at version 2 only: resources have a section of their own. */
const V2_ONLY = validConfiguration({ resources: { gpus: 1, gpuType: 't4', timeLimitMinutes: 90 } });

const TEMPLATE = `query Template($id: ID!) {
  template(id: $id) {
    id version configurationSchemaVersion configuration
    versions { version configurationSchemaVersion }
  }
}`;
const UPGRADE = `mutation Upgrade($id: ID!, $expectedVersion: Int, $changeNote: String) {
  upgradeTemplateSchema(id: $id, expectedVersion: $expectedVersion, changeNote: $changeNote) {
    id version configurationSchemaVersion configuration
  }
}`;
const UPDATE = `mutation Update($id: ID!, $input: UpdateTemplateInput!) {
  updateTemplate(id: $id, input: $input) { id version configurationSchemaVersion configuration }
}`;
const FROM_TEMPLATE = `mutation FromTemplate($input: CreateExperimentFromTemplateInput!) {
  createExperimentFromTemplate(input: $input) { id templateVersion configuration resourceRequirements templateVersionSnapshot { configurationSchemaVersion } }
}`;
const SAVE_STEP = `mutation Save($id: ID!, $input: SaveWizardStepInput!) { saveWizardStep(id: $id, input: $input) { id configuration } }`;
const COMPLETE = `mutation Complete($id: ID!) { completeWizard(id: $id) { id status resourceRequirements } }`;
const VALIDATE = `query Validate($configuration: JSONObject!, $section: ConfigurationSection, $schemaVersion: Int) {
  validateConfiguration(configuration: $configuration, section: $section, schemaVersion: $schemaVersion) { valid errors { path message } }
}`;

describe('configuration schema versions', () => {
  const api = useApi();
  let owner: TestUser;
  let friend: TestUser;
  let stranger: TestUser;

  beforeAll(async () => {
    [owner, friend, stranger] = await Promise.all([api.user('owner'), api.user('friend'), api.user('stranger')]);
  });

  /** A template from before version 2 existed: its rows say version 1, its configuration is valid at 1 only. */
  async function v1Template(options: { tag?: string; configuration?: object; version?: number } = {}) {
    const [id] = await insertTemplates(api, [
      {
        ownerId: owner.id,
        sharedWith: [friend.id],
        tags: options.tag ? [options.tag] : [],
        configuration: options.configuration ?? V1_ONLY,
        configurationSchemaVersion: 1,
        version: options.version ?? 1,
      },
    ]);
    return id;
  }

  async function validationErrors(response: Awaited<ReturnType<typeof api.graphql>>) {
    const error = errorOf(response);
    expect(error.code).toBe('BAD_USER_INPUT');
    return (error.extensions.validationErrors as Array<{ path: string; message: string }>).map(({ path, message }) => ({ path, message }));
  }

  describe('the published schemas', () => {
    it('lists the versions, serves the latest by default and any version by number, to anonymous callers', async () => {
      const data = dataOf(
        await api.graphql(
          '{ configurationSchemaVersions latest: configurationSchema v1: configurationSchema(version: 1) v2: configurationSchema(version: 2) }',
        ),
      );
      expect(data.configurationSchemaVersions).toEqual([1, 2]);
      expect(data.v1).toEqual(JSON.parse(JSON.stringify(configurationSchemaOf(1))));
      expect(data.v2).toEqual(JSON.parse(JSON.stringify(configurationSchemaOf(2))));
      expect(data.latest).toEqual(data.v2);
      expect(data.v2.properties).toHaveProperty('resources');
      expect(data.v1.properties).not.toHaveProperty('resources');
    });

    it('refuses an unknown version with its path', async () => {
      for (const version of [0, 3, -1]) {
        expect(await validationErrors(await api.graphql(`{ configurationSchema(version: ${version}) }`))).toEqual([
          { path: '/version', message: 'must be one of the configuration schema versions: 1, 2' },
        ]);
      }
      const response = await api.graphql(VALIDATE, { variables: { configuration: V1_ONLY, schemaVersion: 9 } });
      expect(await validationErrors(response)).toEqual([
        { path: '/schemaVersion', message: 'must be one of the configuration schema versions: 1, 2' },
      ]);
    });

    it('validates against the version asked for, the latest by default', async () => {
      const validate = async (configuration: unknown, schemaVersion?: number, section?: string) =>
        dataOf(await api.graphql(VALIDATE, { variables: { configuration, schemaVersion, section } })).validateConfiguration;
      expect(await validate(V1_ONLY, 1)).toEqual({ valid: true, errors: [] });
      expect(await validate(V1_ONLY)).toEqual({
        valid: false,
        errors: [
          { path: '/parameters/gpus', message: 'is not allowed here' },
          { path: '/parameters/memoryGb', message: 'is not allowed here' },
        ],
      });
      expect(await validate(V2_ONLY, 2)).toEqual({ valid: true, errors: [] });
      expect(await validate(V2_ONLY, 1)).toEqual({ valid: false, errors: [{ path: '/resources', message: 'is not an allowed property' }] });
      expect(await validate({ resources: { gpus: 1 } }, 1, 'RESOURCES')).toEqual({
        valid: false,
        errors: [{ path: '/resources', message: 'is not a section of configuration schema version 1' }],
      });
      expect(await validate({ resources: { gpus: 1.5 } }, undefined, 'RESOURCES')).toEqual({
        valid: false,
        errors: [{ path: '/resources/gpus', message: 'must be integer' }],
      });
    });
  });

  describe('templates', () => {
    it('are created and changed at the latest version, recorded on the template and each version', async () => {
      const { id } = await createTemplateViaApi(api, owner, { configuration: V2_ONLY });
      const refused = await api.graphql(UPDATE, { as: owner, variables: { id, input: { configuration: V1_ONLY } } });
      expect(await validationErrors(refused)).toEqual([
        { path: '/configuration/parameters/gpus', message: 'is not allowed here' },
        { path: '/configuration/parameters/memoryGb', message: 'is not allowed here' },
      ]);
      dataOf(await api.graphql(UPDATE, { as: owner, variables: { id, input: { name: 'Renamed' } } }));
      const { template } = dataOf(await api.graphql(TEMPLATE, { as: owner, variables: { id } }));
      expect(template).toMatchObject({
        version: 2,
        configurationSchemaVersion: 2,
        versions: [
          { version: 2, configurationSchemaVersion: 2 },
          { version: 1, configurationSchemaVersion: 2 },
        ],
      });
    });

    it('on version 1 stay readable as they are, and the wizard finds them with configurationSchemaBehind', async () => {
      const tag = uniqueTag('behind');
      const behind = await v1Template({ tag });
      const { id: current } = await createTemplateViaApi(api, owner, { tags: [tag] });
      const { template } = dataOf(await api.graphql(TEMPLATE, { as: owner, variables: { id: behind } }));
      expect(template).toMatchObject({
        configurationSchemaVersion: 1,
        configuration: V1_ONLY,
        versions: [{ configurationSchemaVersion: 1 }],
      });

      const list = async (as: TestUser | null, configurationSchemaBehind: boolean) => {
        const response = await api.graphql(
          `query($filter: TemplateFilter) { templates(filter: $filter) { totalCount edges { node { id configurationSchemaVersion } } } }`,
          { as, variables: { filter: { tags: { allOf: [tag] }, configurationSchemaBehind } } },
        );
        return dataOf(response).templates;
      };
      expect(await list(owner, true)).toEqual({ totalCount: 1, edges: [{ node: { id: behind, configurationSchemaVersion: 1 } }] });
      expect(await list(owner, false)).toEqual({ totalCount: 1, edges: [{ node: { id: current, configurationSchemaVersion: 2 } }] });
      // Visibility first: a stranger sees neither of these private templates.
      expect(await list(stranger, true)).toEqual({ totalCount: 0, edges: [] });
    });

    it('upgradeTemplateSchema writes the upgraded configuration as the next version, audited as an update naming the upgrade', async () => {
      const id = await v1Template({ version: 3 });
      const { upgradeTemplateSchema } = dataOf(await api.graphql(UPGRADE, { as: owner, variables: { id, expectedVersion: 3 } }));
      const upgraded = { ...V1_ONLY, parameters: { seed: 1 }, resources: { gpus: 2, memoryGb: 64 } };
      expect(upgradeTemplateSchema).toEqual({ id, version: 4, configurationSchemaVersion: 2, configuration: upgraded });
      const { template } = dataOf(
        await api.graphql(
          `query($id: ID!) { template(id: $id) { versions(first: 2) { version configurationSchemaVersion changeNote configuration } } }`,
          { as: owner, variables: { id } },
        ),
      );
      expect(template.versions).toEqual([
        { version: 4, configurationSchemaVersion: 2, changeNote: 'Upgraded to configuration schema version 2', configuration: upgraded },
        { version: 3, configurationSchemaVersion: 1, changeNote: null, configuration: V1_ONLY },
      ]);
      const [event] = await auditEventsOf(api, id);
      expect(event).toMatchObject({
        action: 'template.updated',
        actorId: owner.id,
        details: {
          fromVersion: 3,
          toVersion: 4,
          changed: ['configuration', 'configurationSchemaVersion'],
          configurationSchemaUpgrade: { from: 1, to: 2 },
        },
      });

      // At the latest already: returned as it is, nothing written.
      const again = dataOf(await api.graphql(UPGRADE, { as: owner, variables: { id } })).upgradeTemplateSchema;
      expect(again).toMatchObject({ version: 4, configurationSchemaVersion: 2 });
      expect(await auditEventsOf(api, id)).toHaveLength(1);
    });

    it('an upgrade whose configuration does not fit the latest is refused with its paths; an update with a configuration fixes it', async () => {
      const id = await v1Template({ configuration: validConfiguration({ parameters: { gpus: 'two' } }) });
      const refused = await api.graphql(UPGRADE, { as: owner, variables: { id } });
      expect(await validationErrors(refused)).toEqual([
        { path: '/configuration/resources/gpus', message: 'must be integer once upgraded from configuration schema version 1 to 2' },
      ]);
      // A change that carries the configuration over upgrades it too, so it is refused the same way.
      expect(await validationErrors(await api.graphql(UPDATE, { as: owner, variables: { id, input: { name: 'x' } } }))).toHaveLength(1);
      expect(await auditEventsOf(api, id)).toEqual([]);

      const fixed = validConfiguration({ resources: { gpus: 2 } });
      const { updateTemplate } = dataOf(await api.graphql(UPDATE, { as: owner, variables: { id, input: { configuration: fixed } } }));
      expect(updateTemplate).toMatchObject({ version: 2, configurationSchemaVersion: 2, configuration: fixed });
      const [event] = await auditEventsOf(api, id);
      expect(event.details).toMatchObject({
        changed: ['configuration', 'configurationSchemaVersion'],
        configurationSchemaUpgrade: { from: 1, to: 2 },
      });
    });

    it('an update of other content upgrades the configuration it carries over; an update that changes nothing writes nothing', async () => {
      const id = await v1Template();
      const same = dataOf(await api.graphql(UPDATE, { as: owner, variables: { id, input: { configuration: validConfiguration() } } }));
      expect(same.updateTemplate).toMatchObject({ version: 2, configurationSchemaVersion: 2 });
      const other = await v1Template();
      const [{ name }] = await api.db.query<{ name: string }>('select name from experiment_templates where id = $1', [other]);
      expect(dataOf(await api.graphql(UPDATE, { as: owner, variables: { id: other, input: { name } } })).updateTemplate).toMatchObject({
        version: 1,
        configurationSchemaVersion: 1,
      });
      const renamed = dataOf(await api.graphql(UPDATE, { as: owner, variables: { id: other, input: { name: 'Renamed' } } }));
      expect(renamed.updateTemplate).toMatchObject({
        version: 2,
        configurationSchemaVersion: 2,
        configuration: { ...V1_ONLY, parameters: { seed: 1 }, resources: { gpus: 2, memoryGb: 64 } },
      });
    });

    it('upgradeTemplateSchema: a hidden template answers like an unknown id, one shared with the caller is FORBIDDEN, anonymous UNAUTHENTICATED', async () => {
      const id = await v1Template();
      const hidden = errorOf(await api.graphql(UPGRADE, { as: stranger, variables: { id } }));
      const unknown = errorOf(await api.graphql(UPGRADE, { as: stranger, variables: { id: randomUUID() } }));
      expect(hidden).toEqual(unknown);
      expect(hidden.code).toBe('NOT_FOUND');
      expect(errorOf(await api.graphql(UPGRADE, { as: friend, variables: { id } })).code).toBe('FORBIDDEN');
      expect(errorOf(await api.graphql(UPGRADE, { variables: { id } })).code).toBe('UNAUTHENTICATED');
      expect(errorOf(await api.graphql(UPGRADE, { as: owner, variables: { id, expectedVersion: 7 } })).code).toBe('CONFLICT');
      const { template } = dataOf(await api.graphql(TEMPLATE, { as: owner, variables: { id } }));
      expect(template).toMatchObject({ version: 1, configurationSchemaVersion: 1 });
    });
  });

  describe('experiments', () => {
    it('from a version 1 template are validated at version 1, through creation, wizard steps and completion', async () => {
      const id = await v1Template();
      const created = dataOf(
        await api.graphql(FROM_TEMPLATE, {
          as: friend,
          variables: { input: { templateId: id, overrides: { parameters: { gpus: 4 } } } },
        }),
      ).createExperimentFromTemplate;
      expect(created).toMatchObject({
        templateVersion: 1,
        configuration: { parameters: { seed: 1, gpus: 4, memoryGb: 64 } },
        resourceRequirements: {},
        templateVersionSnapshot: { configurationSchemaVersion: 1 },
      });
      const withResources = await api.graphql(FROM_TEMPLATE, {
        as: friend,
        variables: { input: { templateId: id, overrides: { resources: { gpus: 1 } } } },
      });
      expect(await validationErrors(withResources)).toEqual([{ path: '/overrides/resources', message: 'is not an allowed property' }]);

      const step = (input: Record<string, unknown>) => api.graphql(SAVE_STEP, { as: friend, variables: { id: created.id, input } });
      expect(await validationErrors(await step({ step: 1, section: 'RESOURCES', value: { gpus: 1 } }))).toEqual([
        { path: '/section', message: 'is not a section of configuration schema version 1' },
      ]);
      dataOf(await step({ step: 1, section: 'PARAMETERS', value: { seed: 2, gpus: 8 } }));

      // The template moves on to version 2; the experiment stays with the version it was made from.
      dataOf(await api.graphql(UPGRADE, { as: owner, variables: { id } }));
      dataOf(await step({ step: 2, section: 'PARAMETERS', value: { seed: 3, gpus: 8 } }));
      expect(dataOf(await api.graphql(COMPLETE, { as: friend, variables: { id: created.id } })).completeWizard).toMatchObject({
        status: 'queued',
        resourceRequirements: {},
      });

      // Made from the upgraded version, the next one is validated at version 2.
      const refused = await api.graphql(FROM_TEMPLATE, {
        as: friend,
        variables: { input: { templateId: id, overrides: { parameters: { gpus: 4 } } } },
      });
      expect(await validationErrors(refused)).toEqual([{ path: '/overrides/parameters/gpus', message: 'is not allowed here' }]);
    });

    it('from a version 2 template take its resources as their resource requirements, overrides included', async () => {
      const { id } = await createTemplateViaApi(api, owner, { configuration: V2_ONLY, isPublic: true });
      const created = dataOf(
        await api.graphql(FROM_TEMPLATE, {
          as: friend,
          variables: { input: { templateId: id, overrides: { resources: { gpus: 2 } } } },
        }),
      ).createExperimentFromTemplate;
      expect(created.resourceRequirements).toEqual({ gpus: 2, gpuType: 't4', timeLimitMinutes: 90 });
      expect(created.templateVersionSnapshot).toEqual({ configurationSchemaVersion: 2 });
    });

    it('without a template are validated at the latest, and completing one fills empty resource requirements from its resources', async () => {
      const draft = dataOf(
        await api.graphql(`mutation($input: CreateExperimentInput!) { createExperiment(input: $input) { id } }`, {
          as: friend,
          variables: { input: { name: 'Scratch', configuration: { resources: { gpus: 1 } } } },
        }),
      ).createExperiment;
      const refused = await api.graphql(SAVE_STEP, {
        as: friend,
        variables: { id: draft.id, input: { step: 1, section: 'PARAMETERS', value: { gpus: 1 } } },
      });
      expect(await validationErrors(refused)).toEqual([{ path: '/value/gpus', message: 'is not allowed here' }]);
      const { features, dataset, model } = validConfiguration();
      for (const [section, value] of [
        ['DATASET', dataset],
        ['FEATURES', features],
        ['MODEL', model],
      ] as const) {
        dataOf(await api.graphql(SAVE_STEP, { as: friend, variables: { id: draft.id, input: { step: 2, section, value } } }));
      }
      expect(dataOf(await api.graphql(COMPLETE, { as: friend, variables: { id: draft.id } })).completeWizard).toMatchObject({
        status: 'queued',
        resourceRequirements: { gpus: 1 },
      });
    });
  });

  describe('documents', () => {
    const EXPORT = 'query Export($id: ID!) { exportTemplate(id: $id, withHistory: true) }';
    const IMPORT = `mutation Import($document: JSONObject!) { importTemplate(document: $document) { id version configurationSchemaVersion configuration } }`;

    it('carry the schema version of the template and of each version; a version 1 document is imported upgraded', async () => {
      const id = await v1Template();
      const { exportTemplate: document } = dataOf(await api.graphql(EXPORT, { as: owner, variables: { id } }));
      expect(document).toMatchObject({
        configurationSchemaVersion: 1,
        configuration: V1_ONLY,
        history: [{ configurationSchemaVersion: 1 }],
      });
      const { importTemplate } = dataOf(await api.graphql(IMPORT, { as: friend, variables: { document } }));
      expect(importTemplate).toMatchObject({
        version: 1,
        configurationSchemaVersion: 2,
        configuration: { ...V1_ONLY, parameters: { seed: 1 }, resources: { gpus: 2, memoryGb: 64 } },
      });
      // No schema version stated: read as version 1, the only one before version 2 existed.
      const { configurationSchemaVersion: _version, ...unstated } = document;
      expect(dataOf(await api.graphql(IMPORT, { as: friend, variables: { document: unstated } })).importTemplate).toMatchObject({
        configurationSchemaVersion: 2,
        configuration: { resources: { gpus: 2, memoryGb: 64 } },
      });
    });

    it('are read at the version they state: errors at their path in the document', async () => {
      const { id } = await createTemplateViaApi(api, owner, { configuration: V2_ONLY });
      const { exportTemplate: document } = dataOf(await api.graphql(EXPORT, { as: owner, variables: { id } }));
      expect(document.configurationSchemaVersion).toBe(2);
      expect(dataOf(await api.graphql(IMPORT, { as: friend, variables: { document } })).importTemplate).toMatchObject({
        configurationSchemaVersion: 2,
        configuration: V2_ONLY,
      });
      const statedV1 = await api.graphql(IMPORT, { as: friend, variables: { document: { ...document, configurationSchemaVersion: 1 } } });
      expect(await validationErrors(statedV1)).toEqual([
        { path: '/document/configuration/resources', message: 'is not an allowed property' },
      ]);
      const unknown = await api.graphql(IMPORT, { as: friend, variables: { document: { ...document, configurationSchemaVersion: 3 } } });
      expect(await validationErrors(unknown)).toEqual([
        { path: '/document/configurationSchemaVersion', message: 'must be one of the configuration schema versions: 1, 2' },
      ]);
    });
  });
});
