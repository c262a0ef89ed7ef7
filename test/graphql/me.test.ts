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

  it('costs a known caller with unchanged claims one read: no write, no row lock', async () => {
    const ada = await api.user('ada');
    const { statements } = await api.countStatements(() => api.graphql('{ me { id } }', { as: ada }));
    expect(statements.filter((sql) => /^\s*(with|insert|update)\b/i.test(sql))).toEqual([]);
    // A row lock (the old upsert's `do update ... where <unchanged>`) would leave the locker's id in xmax.
    const [row] = await api.db.query('select xmax::text as xmax from users where id = $1', [ada.id]);
    expect(row.xmax).toBe('0');
  });

  it('refuses a bad token with 401 UNAUTHENTICATED, whatever the query', async () => {
    const response = await api.graphql('{ __typename }', { headers: { authorization: 'Bearer not-a-token' } });
    expect(response.status).toBe(401);
    expect(errorOf(response).code).toBe('UNAUTHENTICATED');
  });
});
