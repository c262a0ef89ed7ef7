import { validConfiguration } from '../support/factories';
import { useApi } from '../support/api';

describe('required input fields', () => {
  const api = useApi();

  const CREATE_TEMPLATE = 'mutation($input: CreateTemplateInput!) { createTemplate(input: $input) { id } }';
  const CREATE_EXPERIMENT = 'mutation($input: CreateExperimentInput!) { createExperiment(input: $input) { id } }';

  it('a missing name is refused the same way by both create mutations, and nothing is written', async () => {
    const owner = await api.user('owner');
    const template = await api.graphql(CREATE_TEMPLATE, {
      as: owner,
      variables: { input: { category: 'NLP', configuration: validConfiguration() } },
    });
    const experiment = await api.graphql(CREATE_EXPERIMENT, { as: owner, variables: { input: {} } });

    const answerOf = (response: typeof template) => ({
      status: response.status,
      data: response.body.data,
      errors: response.body.errors?.map((error) => ({
        code: error.extensions?.code,
        message: error.message.replace(/got invalid value .*?; /, ''),
      })),
    });
    expect(answerOf(template)).toEqual(answerOf(experiment));
    expect(answerOf(template).errors).toEqual([
      { code: 'BAD_USER_INPUT', message: 'Variable "$input" Field "name" of required type "String!" was not provided.' },
    ]);
    const [{ count }] = await api.db.query(
      `select (select count(*) from experiment_templates where created_by = $1) + (select count(*) from ml_experiments where owner_id = $1) as count`,
      [owner.id],
    );
    expect(Number(count)).toBe(0);
  });
});
