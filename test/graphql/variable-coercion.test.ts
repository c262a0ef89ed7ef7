import { errorOf, useApi } from '../support/api';

describe('variables that do not fit their types', () => {
  const api = useApi();

  it('are BAD_USER_INPUT, not internal errors', async () => {
    const user = await api.user('coercion');
    const response = await api.graphql('query($filter: TemplateFilter) { templates(filter: $filter) { totalCount } }', {
      as: user,
      variables: { filter: { categories: ['classification'] } },
    });
    expect(response.status).toBe(400);
    expect(errorOf(response).code).toBe('BAD_USER_INPUT');
    expect(errorOf(response).message).toMatch(/categories/);
  });
});
