import { dataOf, useApi } from '../support/api';
import { createTemplateViaApi } from '../support/factories';

/**
 * A user's email is shown to that user and to staff (`roles: ["admin"]`) only: everybody else, anonymous callers of a
 * public template included, gets null and sees the display name. Every path that returns a user goes through the same
 * field.
 */
describe('emails are private', () => {
  const api = useApi();

  const DETAILS = /* GraphQL */ `
    query Details($id: ID!) {
      template(id: $id) {
        owner {
          id
          email
        }
        sharedWith {
          id
          email
        }
        versions {
          createdBy {
            id
            email
          }
        }
      }
    }
  `;
  const PAGE = '{ templates(first: 100) { edges { node { id owner { id email } } } } }';

  async function publicTemplateSharedWith() {
    const owner = await api.user('owner');
    const friend = await api.user('friend');
    const template = await createTemplateViaApi(api, owner, { isPublic: true });
    dataOf(
      await api.graphql('mutation($id: ID!, $userIds: [ID!]!) { shareTemplate(id: $id, userIds: $userIds) { id } }', {
        as: owner,
        variables: { id: template.id, userIds: [friend.id] },
      }),
    );
    return { owner, friend, template };
  }

  it('hides the owner and authors of a public template from anonymous callers and other users', async () => {
    const { owner, template } = await publicTemplateSharedWith();
    const stranger = await api.user('stranger');
    for (const as of [null, stranger]) {
      const { template: read } = dataOf(await api.graphql(DETAILS, { as, variables: { id: template.id } }));
      expect(read.owner).toEqual({ id: owner.id, email: null });
      expect(read.versions).toEqual([{ createdBy: { id: owner.id, email: null } }]);
      const listed = dataOf(await api.graphql(PAGE, { as })).templates.edges.find((edge: any) => edge.node.id === template.id);
      expect(listed.node.owner).toEqual({ id: owner.id, email: null });
    }
  });

  it('shows users their own email, and not the emails of those they share with', async () => {
    const { owner, friend, template } = await publicTemplateSharedWith();
    const { template: read } = dataOf(await api.graphql(DETAILS, { as: owner, variables: { id: template.id } }));
    expect(read.owner).toEqual({ id: owner.id, email: owner.email });
    expect(read.versions).toEqual([{ createdBy: { id: owner.id, email: owner.email } }]);
    expect(read.sharedWith).toEqual([{ id: friend.id, email: null }]);
    expect(dataOf(await api.graphql('{ me { email } }', { as: friend }))).toEqual({ me: { email: friend.email } });
  });

  it('shows staff every email', async () => {
    const { owner, template } = await publicTemplateSharedWith();
    const staff = await api.user('staff', ['admin']);
    const { template: read } = dataOf(await api.graphql(DETAILS, { as: staff, variables: { id: template.id } }));
    expect(read.owner).toEqual({ id: owner.id, email: owner.email });
    expect(read.versions).toEqual([{ createdBy: { id: owner.id, email: owner.email } }]);
  });
});
