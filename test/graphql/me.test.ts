import { dataOf, errorOf, useApi } from '../support/api';

describe('me and authentication over HTTP', () => {
  const api = useApi();

  it('is null for an anonymous caller', async () => {
    expect(dataOf(await api.graphql('{ me { id } }'))).toEqual({ me: null });
  });

  it('creates the user from the token on first sight and returns the same one after', async () => {
    const ada = await api.user('ada');
    const me = dataOf(await api.graphql('{ me { id email displayName createdAt } }', { as: ada }));
    expect(me.me).toMatchObject({ id: ada.id, email: ada.email, displayName: ada.email.split('@')[0] });
    const [{ count }] = await api.db.query('select count(*)::int as count from users where email = $1', [ada.email]);
    expect(count).toBe(1);
  });

  it('refuses a bad token with 401 UNAUTHENTICATED, whatever the query', async () => {
    const response = await api.graphql('{ __typename }', { headers: { authorization: 'Bearer not-a-token' } });
    expect(response.status).toBe(401);
    expect(errorOf(response).code).toBe('UNAUTHENTICATED');
  });
});
