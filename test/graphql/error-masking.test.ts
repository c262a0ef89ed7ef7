import { errorOf, useApi } from '../support/api';

describe('unexpected errors', () => {
  const api = useApi();

  it('are masked for the client and logged with the request id', async () => {
    const ada = await api.user('ada');
    // A real database failure: the table the request needs is gone.
    await api.db.query('alter table users rename to users_moved');
    try {
      const response = await api.graphql('{ me { id } }', { as: ada });
      const error = errorOf(response);
      expect(error.code).toBe('INTERNAL_SERVER_ERROR');
      expect(error.message).toBe('Internal server error');
      const body = JSON.stringify(response.body);
      expect(body).not.toMatch(/users|relation|select|insert|at \w+ \(/i);
      const requestId = error.extensions.requestId;
      expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
      const logged = api.logs.filter((line) => line.includes(requestId));
      expect(logged.length).toBeGreaterThan(0);
      expect(logged.join('\n')).toMatch(/relation \\"users\\" does not exist/);
    } finally {
      await api.db.query('alter table users_moved rename to users');
    }
  });
});
