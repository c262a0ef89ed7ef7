import { Client } from 'pg';
import { dataOf, errorOf, useApi, type Api, type GraphqlResponse } from '../support/api';
import type { TestUser } from '../support/factories';

const CREATE = `mutation($input: CreateTemplateInput!) { createTemplate(input: $input) { id version } }`;
const UPDATE = `mutation($id: ID!, $input: UpdateTemplateInput!) { updateTemplate(id: $id, input: $input) { id version } }`;

const input = {
  name: 'Database errors',
  category: 'CLASSIFICATION',
  configuration: { dataset: { source: 's3://x' }, features: [], model: { type: 'rf' } },
};

/** The client sees a masked error with a request id, and the log holds the cause under that id. */
function expectMasked(api: Api, response: GraphqlResponse, cause: RegExp) {
  const error = errorOf(response);
  expect(error).toMatchObject({ code: 'INTERNAL_SERVER_ERROR', message: 'Internal server error' });
  expect(JSON.stringify(response.body)).not.toMatch(/experiment_template|select|insert|update |duplicate|timeout|knex|\.ts:|\bat \w/i);
  const logged = api.logs.filter((line) => line.includes(error.extensions.requestId)).join('\n');
  expect(logged).toMatch(cause);
}

/** Holds a row lock on the template from another connection until released. */
async function lockTemplate(api: Api, templateId: string): Promise<() => Promise<void>> {
  const client = new Client({ connectionString: api.db.url });
  await client.connect();
  await client.query('begin');
  await client.query('select 1 from experiment_templates where id = $1 for update', [templateId]);
  return async () => {
    await client.query('rollback');
    await client.end();
  };
}

describe('database errors reach clients masked', () => {
  describe('with the usual pool', () => {
    const api = useApi();
    let owner: TestUser;
    beforeAll(async () => {
      owner = await api.user('owner');
    });

    it('a unique violation: masked, logged, nothing written', async () => {
      const { createTemplate } = dataOf(await api.graphql(CREATE, { as: owner, variables: { input } }));
      // A snapshot for the next version number appears behind the service's back.
      await api.db.query(
        `insert into experiment_template_versions (template_id, version, name, category, configuration)
         values ($1, 2, 'intruder', 'classification', '{}')`,
        [createTemplate.id],
      );
      const response = await api.graphql(UPDATE, { as: owner, variables: { id: createTemplate.id, input: { name: 'Renamed' } } });
      expectMasked(api, response, /duplicate key value violates unique constraint/);
      const [row] = await api.db.query('select name, version from experiment_templates where id = $1', [createTemplate.id]);
      expect(row).toEqual({ name: 'Database errors', version: 1 });
    });
  });

  describe('with a short statement timeout', () => {
    const api = useApi({ db: { statementTimeoutMs: 300, lockTimeoutMs: 10_000 } });

    it('a statement timeout: masked, logged, nothing written', async () => {
      const owner = await api.user('owner');
      const { createTemplate } = dataOf(await api.graphql(CREATE, { as: owner, variables: { input } }));
      const release = await lockTemplate(api, createTemplate.id);
      try {
        const response = await api.graphql(UPDATE, { as: owner, variables: { id: createTemplate.id, input: { name: 'Renamed' } } });
        expectMasked(api, response, /canceling statement due to statement timeout/);
      } finally {
        await release();
      }
      const [row] = await api.db.query('select name, version from experiment_templates where id = $1', [createTemplate.id]);
      expect(row).toEqual({ name: 'Database errors', version: 1 });
    });
  });

  describe('with a short statement timeout and a pool of one connection', () => {
    const api = useApi({ db: { poolMax: 1, statementTimeoutMs: 300, lockTimeoutMs: 10_000 } });

    it('a read cancelled by PostgreSQL: masked, and its connection, still in step, serves the next request', async () => {
      const owner = await api.user('owner');
      const backends = () =>
        api.db.query<{ pid: number }>(
          `select pid from pg_stat_activity where datname = current_database() and application_name = 'tessera'`,
        );
      dataOf(await api.graphql('{ templates(first: 1) { edges { node { id } } } }', { as: owner }));
      const [before] = await backends();

      // A table lock stops every read of the table until it is released: the read waits, and PostgreSQL cancels it.
      const locker = new Client({ connectionString: api.db.url });
      await locker.connect();
      try {
        await locker.query('begin');
        await locker.query('lock table experiment_templates in access exclusive mode');
        const cancelled = await api.graphql('{ templates(first: 1) { edges { node { id } } } }', { as: owner });
        expectMasked(api, cancelled, /canceling statement due to statement timeout/);
      } finally {
        await locker.query('rollback');
        await locker.end();
      }

      dataOf(await api.graphql('{ templates(first: 1) { edges { node { id } } } }', { as: owner }));
      expect(await backends()).toEqual([before]);
    });
  });

  describe('with a pool of one connection', () => {
    const api = useApi({ db: { poolMax: 1, acquireTimeoutMs: 300, statementTimeoutMs: 10_000, lockTimeoutMs: 10_000 } });

    it('a pool acquire timeout: masked, logged', async () => {
      const owner = await api.user('owner');
      const { createTemplate } = dataOf(await api.graphql(CREATE, { as: owner, variables: { input } }));
      const release = await lockTemplate(api, createTemplate.id);
      try {
        // The first request takes the only connection and waits on the lock; the second cannot get one.
        const blocked = api.graphql(UPDATE, { as: owner, variables: { id: createTemplate.id, input: { name: 'First' } } });
        await new Promise((resolve) => setTimeout(resolve, 100));
        const starved = await api.graphql('{ me { id } }', { as: owner });
        expectMasked(api, starved, /Timeout acquiring a connection/);
        await release();
        expect(dataOf(await blocked).updateTemplate.version).toBe(2);
      } finally {
        await release().catch(() => undefined);
      }
    });
  });
});
