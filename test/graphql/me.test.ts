import { signLocalToken } from '../../src/auth/local-secret';
import { KNOWN_USER_HOLD_MS } from '../../src/user/user.service';
import { dataOf, errorOf, TEST_JWT_SECRET, useApi } from '../support/api';
import { fakeClockOnly } from '../support/clock';

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

  it('costs a known caller with unchanged claims no statement to find them, and no write', async () => {
    const ada = await api.user('ada');
    const { statements } = await api.countStatements(() => api.graphql('{ me { id } }', { as: ada }));
    // Finding a caller from a token takes their subject, which only `external_id` holds.
    expect(statements.filter((sql) => sql.includes('external_id'))).toEqual([]);
    // A row lock (the old upsert's `do update ... where <unchanged>`) would leave the locker's id in xmax.
    const [row] = await api.db.query('select xmax::text as xmax from users where id = $1', [ada.id]);
    expect(row.xmax).toBe('0');
  });

  it('writes a changed name at once, and the earlier one again when an earlier token comes back', async () => {
    const ada = await api.user('ada');
    const tokenNaming = async (name: string) => ({ token: await signLocalToken({ secret: TEST_JWT_SECRET, email: ada.email, name }) });
    const [lovelace, countess] = [await tokenNaming('Ada Lovelace'), await tokenNaming('Countess of Lovelace')];
    const storedName = async () => (await api.db.query('select display_name from users where id = $1', [ada.id]))[0].display_name;

    expect(dataOf(await api.graphql('{ me { id displayName } }', { as: lovelace }))).toEqual({
      me: { id: ada.id, displayName: 'Ada Lovelace' },
    });
    expect(dataOf(await api.graphql('{ me { displayName } }', { as: countess }))).toEqual({ me: { displayName: 'Countess of Lovelace' } });
    expect(dataOf(await api.graphql('{ me { displayName } }', { as: lovelace }))).toEqual({ me: { displayName: 'Ada Lovelace' } });
    expect(await storedName()).toBe('Ada Lovelace');
  });

  it('keeps the name a user has when a token carries none (as `npm run token` signs them without --name)', async () => {
    const ada = await api.user('ada');
    const named = { token: await signLocalToken({ secret: TEST_JWT_SECRET, email: ada.email, name: 'Ada Lovelace' }) };
    expect(dataOf(await api.graphql('{ me { displayName } }', { as: named }))).toEqual({ me: { displayName: 'Ada Lovelace' } });

    const unnamed = { token: await signLocalToken({ secret: TEST_JWT_SECRET, email: ada.email }) };
    expect(dataOf(await api.graphql('{ me { id displayName } }', { as: unnamed }))).toEqual({
      me: { id: ada.id, displayName: 'Ada Lovelace' },
    });
    const [{ display_name }] = await api.db.query('select display_name from users where id = $1', [ada.id]);
    expect(display_name).toBe('Ada Lovelace');
  });

  it('finds a caller whose row was deleted by hand again once the hold is over', async () => {
    const ada = await api.user('ada');
    await api.db.query('delete from users where id = $1', [ada.id]);
    // Within the hold the remembered id names no row: the server never deletes users, so only an operator can do this.
    expect(dataOf(await api.graphql('{ me { id } }', { as: ada }))).toEqual({ me: null });
    fakeClockOnly(Date.now() + KNOWN_USER_HOLD_MS);
    try {
      const { me } = dataOf(await api.graphql('{ me { id email } }', { as: ada }));
      expect(me.email).toBe(ada.email);
      expect(me.id).not.toBe(ada.id);
    } finally {
      jest.useRealTimers();
    }
  });

  it('refuses a bad token with 401 UNAUTHENTICATED, whatever the query', async () => {
    const response = await api.graphql('{ __typename }', { headers: { authorization: 'Bearer not-a-token' } });
    expect(response.status).toBe(401);
    expect(errorOf(response).code).toBe('UNAUTHENTICATED');
  });

  it("gives a new caller's first requests, sent all at once, one and the same user", async () => {
    const email = `eve-${Date.now()}@example.test`;
    const token = await signLocalToken({ secret: TEST_JWT_SECRET, email });
    const responses = await Promise.all(Array.from({ length: 30 }, () => api.graphql('{ me { id } }', { as: { token } })));
    const ids = responses.map((response) => dataOf(response).me.id as string);
    expect(new Set(ids).size).toBe(1);
    const [{ count }] = await api.db.query('select count(*)::int as count from users where email = $1', [email]);
    expect(count).toBe(1);
  });
});
