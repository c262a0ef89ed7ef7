import { dataOf, errorOf, useApi } from '../support/api';
import { createTemplateViaApi } from '../support/factories';

/** UUIDs are case-insensitive (RFC 9562); a client that writes them in upper case names the same rows. */
describe('ids in upper case', () => {
  const api = useApi();
  const upper = (id: string) => id.toUpperCase();

  it('read the same template and experiment, and lists filter by them', async () => {
    const ada = await api.user('ada');
    const template = await createTemplateViaApi(api, ada);
    const { createExperimentFromTemplate: experiment } = dataOf(
      await api.graphql('mutation($input: CreateExperimentFromTemplateInput!) { createExperimentFromTemplate(input: $input) { id } }', {
        as: ada,
        variables: { input: { templateId: upper(template.id) } },
      }),
    );

    const read = dataOf(
      await api.graphql(
        `query($template: ID!, $experiment: ID!) {
          template(id: $template) { id }
          experiment(id: $experiment) { id template { id } }
          experiments(filter: { templateId: $template }) { totalCount edges { node { id } } }
        }`,
        { as: ada, variables: { template: upper(template.id), experiment: upper(experiment.id) } },
      ),
    );
    expect(read).toEqual({
      template: { id: template.id },
      experiment: { id: experiment.id, template: { id: template.id } },
      experiments: { totalCount: 1, edges: [{ node: { id: experiment.id } }] },
    });
  });

  it('change the same rows, and shares name the same users', async () => {
    const ada = await api.user('ada');
    const bob = await api.user('bob');
    const template = await createTemplateViaApi(api, ada);
    const updated = await api.graphql('mutation($id: ID!) { updateTemplate(id: $id, input: { name: "Renamed" }) { id version } }', {
      as: ada,
      variables: { id: upper(template.id) },
    });
    expect(dataOf(updated).updateTemplate).toEqual({ id: template.id, version: 2 });

    // Bob named twice, once per case, and the owner herself in upper case: one share, for Bob.
    const shared = await api.graphql(
      'mutation($id: ID!, $users: [ID!]!) { shareTemplate(id: $id, userIds: $users) { sharedWith { id } } }',
      {
        as: ada,
        variables: { id: upper(template.id), users: [upper(bob.id), bob.id, upper(ada.id)] },
      },
    );
    expect(dataOf(shared).shareTemplate.sharedWith).toEqual([{ id: bob.id }]);
    const unshared = await api.graphql(
      'mutation($id: ID!, $users: [ID!]!) { unshareTemplate(id: $id, userIds: $users) { sharedWith { id } } }',
      { as: ada, variables: { id: template.id, users: [upper(bob.id)] } },
    );
    expect(dataOf(unshared).unshareTemplate.sharedWith).toEqual([]);

    const deleted = await api.graphql('mutation($id: ID!) { deleteTemplate(id: $id) }', { as: ada, variables: { id: upper(template.id) } });
    expect(dataOf(deleted).deleteTemplate).toBe(template.id);
  });

  it("change the caller's experiment", async () => {
    const ada = await api.user('ada');
    const { createExperiment: experiment } = dataOf(
      await api.graphql('mutation { createExperiment(input: { name: "Draft" }) { id } }', { as: ada }),
    );
    const saved = await api.graphql('mutation($id: ID!) { saveWizardStep(id: $id, input: { step: 2 }) { id wizardStepCompleted } }', {
      as: ada,
      variables: { id: upper(experiment.id) },
    });
    expect(dataOf(saved).saveWizardStep).toEqual({ id: experiment.id, wizardStepCompleted: 2 });
  });

  it('still name nothing for another caller', async () => {
    const ada = await api.user('ada');
    const eve = await api.user('eve');
    const template = await createTemplateViaApi(api, ada, { isPublic: false });
    const read = await api.graphql('query($id: ID!) { template(id: $id) { id } }', { as: eve, variables: { id: upper(template.id) } });
    expect(dataOf(read)).toEqual({ template: null });
    const update = await api.graphql('mutation($id: ID!) { updateTemplate(id: $id, input: { name: "Mine" }) { id } }', {
      as: eve,
      variables: { id: upper(template.id) },
    });
    expect(errorOf(update).code).toBe('NOT_FOUND');
  });
});
