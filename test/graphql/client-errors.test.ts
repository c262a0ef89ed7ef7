import { dataOf, errorOf, useApi } from '../support/api';
import { createTemplateViaApi, validConfiguration, type TestUser } from '../support/factories';

/**
 * What a wizard's client maps errors with: every problem inside a configuration carries its pointer from the
 * configuration's root whichever input carried it (`path` stays relative to the input), and every CONFLICT carries a
 * machine-readable `reason` with the current version or status.
 */
describe('errors a client can act on', () => {
  const api = useApi();
  let owner: TestUser;
  const BAD_MODEL = { type: 'gradient_boosting', framework: 'scikit' };
  const FRAMEWORK_MESSAGE = expect.stringContaining('must be one of');

  beforeAll(async () => {
    owner = await api.user('owner');
  });

  it('gives one bad configuration field one pointer, whichever operation carried it', async () => {
    const { id: templateId } = await createTemplateViaApi(api, owner);
    const { createExperiment: draft } = dataOf(
      await api.graphql('mutation { createExperiment(input: { name: "draft" }) { id } }', { as: owner }),
    );

    const validate = await api.graphql(
      'query($c: JSONObject!) { validateConfiguration(configuration: $c) { valid errors { path message configurationPointer } } }',
      { as: owner, variables: { c: { ...validConfiguration(), model: BAD_MODEL } } },
    );
    const step = await api.graphql('mutation($id: ID!, $input: SaveWizardStepInput!) { saveWizardStep(id: $id, input: $input) { id } }', {
      as: owner,
      variables: { id: draft.id, input: { step: 3, section: 'MODEL', value: BAD_MODEL } },
    });
    const create = await api.graphql('mutation($input: CreateTemplateInput!) { createTemplate(input: $input) { id } }', {
      as: owner,
      variables: { input: { name: 'x', category: 'CLASSIFICATION', configuration: { ...validConfiguration(), model: BAD_MODEL } } },
    });
    const fromTemplate = await api.graphql(
      'mutation($input: CreateExperimentFromTemplateInput!) { createExperimentFromTemplate(input: $input) { id } }',
      { as: owner, variables: { input: { templateId, overrides: { model: { framework: 'scikit' } } } } },
    );

    expect(dataOf(validate).validateConfiguration.errors).toEqual([
      { path: '/model/framework', message: FRAMEWORK_MESSAGE, configurationPointer: '/model/framework' },
    ]);
    const problemsOf = (response: typeof step) => errorOf(response).extensions.validationErrors;
    expect(problemsOf(step)).toEqual([{ path: '/value/framework', message: FRAMEWORK_MESSAGE, configurationPointer: '/model/framework' }]);
    expect(problemsOf(create)).toEqual([
      { path: '/configuration/model/framework', message: FRAMEWORK_MESSAGE, configurationPointer: '/model/framework' },
    ]);
    expect(problemsOf(fromTemplate)).toEqual([
      { path: '/overrides/model/framework', message: FRAMEWORK_MESSAGE, configurationPointer: '/model/framework' },
    ]);
  });

  it('points at unknown sections and at whole sections too', async () => {
    const CREATE_DRAFT = 'mutation($input: CreateExperimentInput!) { createExperiment(input: $input) { id } }';
    const unknown = await api.graphql(CREATE_DRAFT, {
      as: owner,
      variables: { input: { name: 'draft', configuration: { colour: 'blue' } } },
    });
    expect(errorOf(unknown).extensions.validationErrors).toEqual([
      { path: '/configuration/colour', message: 'is not an allowed property', configurationPointer: '/colour' },
    ]);

    const { createExperiment: draft } = dataOf(await api.graphql(CREATE_DRAFT, { as: owner, variables: { input: { name: 'draft' } } }));
    const complete = await api.graphql('mutation($id: ID!) { completeWizard(id: $id) { id } }', { as: owner, variables: { id: draft.id } });
    expect(errorOf(complete).extensions.validationErrors).toContainEqual({
      path: '/configuration/dataset',
      message: 'is required',
      configurationPointer: '/dataset',
    });
  });

  it('gives every CONFLICT a reason, with the current version or status', async () => {
    const { id: templateId } = await createTemplateViaApi(api, owner);
    const stale = await api.graphql(
      'mutation($id: ID!) { updateTemplate(id: $id, input: { name: "renamed" }, expectedVersion: 7) { version } }',
      { as: owner, variables: { id: templateId } },
    );
    expect(errorOf(stale)).toMatchObject({ code: 'CONFLICT', extensions: { reason: 'VERSION_MISMATCH', currentVersion: 1 } });

    const { createExperimentFromTemplate: experiment } = dataOf(
      await api.graphql('mutation($templateId: ID!) { createExperimentFromTemplate(input: { templateId: $templateId }) { id } }', {
        as: owner,
        variables: { templateId },
      }),
    );
    dataOf(await api.graphql('mutation($id: ID!) { completeWizard(id: $id) { id } }', { as: owner, variables: { id: experiment.id } }));
    const late = await api.graphql('mutation($id: ID!) { saveWizardStep(id: $id, input: { step: 2 }) { id } }', {
      as: owner,
      variables: { id: experiment.id },
    });
    expect(errorOf(late)).toMatchObject({ code: 'CONFLICT', extensions: { reason: 'WIZARD_COMPLETED', currentStatus: 'queued' } });

    dataOf(await api.graphql('mutation($id: ID!) { deactivateTemplate(id: $id) { id } }', { as: owner, variables: { id: templateId } }));
    const inactive = await api.graphql(
      'mutation($templateId: ID!) { createExperimentFromTemplate(input: { templateId: $templateId }) { id } }',
      { as: owner, variables: { templateId } },
    );
    expect(errorOf(inactive)).toMatchObject({ code: 'CONFLICT', extensions: { reason: 'TEMPLATE_INACTIVE' } });
  });
});
