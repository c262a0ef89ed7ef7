import { signLocalToken } from '../../src/auth/local-secret';
import { dataOf, TEST_JWT_SECRET, useApi, type GraphqlResponse } from '../support/api';
import { auditEventsOf, createTemplateViaApi, validConfiguration, type TestUser } from '../support/factories';
import { TEST_DB_CONFIG } from '../support/test-database-config';

/**
 * 200 concurrent callers over real HTTP against one template, on a pool of TEST_DB_CONFIG.poolMax (20) connections:
 * usage counts, version numbers and shares come out exact, and no caller ever sees an error (no deadlock, no
 * serialization failure, no pool acquire timeout).
 */

const CALLERS = 200;

const FROM_TEMPLATE = `mutation($input: CreateExperimentFromTemplateInput!) {
  createExperimentFromTemplate(input: $input) { id templateVersion } }`;
const UPDATE = `mutation($id: ID!, $input: UpdateTemplateInput!) { updateTemplate(id: $id, input: $input) { id version } }`;
const SHARE = `mutation($id: ID!, $userIds: [ID!]!) { shareTemplate(id: $id, userIds: $userIds) { id } }`;
const UNSHARE = `mutation($id: ID!, $userIds: [ID!]!) { unshareTemplate(id: $id, userIds: $userIds) { id } }`;
const SHARE_BY_EMAIL = `mutation($id: ID!, $emails: [String!]) { shareTemplate(id: $id, emails: $emails) { id } }`;
const UNSHARE_BY_EMAIL = `mutation($id: ID!, $emails: [String!]) { unshareTemplate(id: $id, emails: $emails) { id } }`;
const SET_PUBLIC = `mutation($id: ID!, $isPublic: Boolean!) { setTemplatePublic(id: $id, isPublic: $isPublic) { id } }`;

interface Burst {
  responses: GraphqlResponse[];
  elapsedMs: number;
  maxMs: number;
  p50Ms: number;
}

describe(`${CALLERS} concurrent callers over HTTP`, () => {
  const api = useApi();
  let owner: TestUser;
  let users: TestUser[];

  beforeAll(async () => {
    owner = await api.user('owner');
    users = await Promise.all(Array.from({ length: 10 }, (_, i) => api.user(`caller${i}`)));
  });

  /** Starts every call at once and waits for all; figures for the log. */
  async function burst(label: string, calls: Array<() => Promise<GraphqlResponse>>): Promise<Burst> {
    const latencies: number[] = [];
    const started = performance.now();
    const responses = await Promise.all(
      calls.map(async (call) => {
        const callStarted = performance.now();
        const response = await call();
        latencies.push(performance.now() - callStarted);
        return response;
      }),
    );
    const elapsedMs = performance.now() - started;
    latencies.sort((a, b) => a - b);
    const result = { responses, elapsedMs, maxMs: latencies.at(-1)!, p50Ms: latencies[Math.floor(latencies.length / 2)] };
    const failed = responses.filter((r) => r.status !== 200 || r.body.errors?.length);
    console.log(
      `${label}: ${calls.length} concurrent calls, ${calls.length - failed.length} ok, ${failed.length} failed, ` +
        `${result.elapsedMs.toFixed(0)} ms in all, p50 ${result.p50Ms.toFixed(0)} ms, max ${result.maxMs.toFixed(0)} ms ` +
        `(pool ${TEST_DB_CONFIG.poolMax}, acquire timeout ${TEST_DB_CONFIG.acquireTimeoutMs} ms)`,
    );
    return result;
  }

  /** Every response is data: the errors of those that are not, for the assertion message. */
  function errorsOf(result: Burst): string[] {
    return result.responses.flatMap((r) =>
      r.status === 200 && !r.body.errors?.length ? [] : [`HTTP ${r.status}: ${JSON.stringify(r.body.errors ?? r.body).slice(0, 300)}`],
    );
  }

  async function templateRow(id: string) {
    const [row] = await api.db.query(
      'select version, usage_count, last_used, updated_at, name, description, configuration from experiment_templates where id = $1',
      [id],
    );
    return row;
  }

  async function versionNumbers(id: string): Promise<number[]> {
    const rows = await api.db.query<{ version: number }>(
      'select version from experiment_template_versions where template_id = $1 order by version',
      [id],
    );
    return rows.map((row) => row.version);
  }

  /** Each experiment's configuration is its template's configuration at exactly the version it recorded. */
  async function experimentsMismatchingTheirVersion(templateId: string): Promise<number> {
    const [row] = await api.db.query(
      `select count(*)::int as n from ml_experiments e
       join experiment_template_versions v on v.template_id = e.template_id and v.version = e.template_version
       where e.template_id = $1 and e.configuration <> v.configuration`,
      [templateId],
    );
    return row.n;
  }

  async function newUsers(count: number): Promise<string[]> {
    const rows = await api.db.query<{ id: string }>(
      `insert into users (external_id, email) select 'sub|share-' || gen_random_uuid(), null from generate_series(1, $1) returning id`,
      [count],
    );
    return rows.map((row) => row.id);
  }

  async function sharedWith(id: string): Promise<string[]> {
    const rows = await api.db.query<{ user_id: string }>('select user_id from experiment_template_shares where template_id = $1', [id]);
    return rows.map((row) => row.user_id).sort();
  }

  it(`usage: ${CALLERS} concurrent createExperimentFromTemplate count exactly ${CALLERS} uses, each at the current version`, async () => {
    const template = await createTemplateViaApi(api, owner, { name: 'Popular' });
    dataOf(await api.graphql(SET_PUBLIC, { as: owner, variables: { id: template.id, isPublic: true } }));
    dataOf(await api.graphql(UPDATE, { as: owner, variables: { id: template.id, input: { description: 'version 2' } } }));
    const before = await templateRow(template.id);

    const result = await burst(
      'usage',
      Array.from(
        { length: CALLERS },
        (_, i) => () =>
          api.graphql(FROM_TEMPLATE, { as: users[i % users.length], variables: { input: { templateId: template.id, name: `run ${i}` } } }),
      ),
    );

    expect(errorsOf(result)).toEqual([]);
    const created = result.responses.map((r) => r.body.data!.createExperimentFromTemplate);
    expect(new Set(created.map((e: { id: string }) => e.id)).size).toBe(CALLERS);
    expect(created.every((e: { templateVersion: number }) => e.templateVersion === 2)).toBe(true);
    const after = await templateRow(template.id);
    expect(after.usage_count).toBe(before.usage_count + CALLERS);
    expect(after.last_used).toBeInstanceOf(Date);
    // Counting a use is not an edit.
    expect(after.version).toBe(2);
    expect(after.updated_at).toEqual(before.updated_at);
    const [experiments] = await api.db.query(
      'select count(*)::int as n, count(distinct name)::int as names, min(template_version) as lo, max(template_version) as hi from ml_experiments where template_id = $1',
      [template.id],
    );
    expect(experiments).toEqual({ n: CALLERS, names: CALLERS, lo: 2, hi: 2 });
    expect(await experimentsMismatchingTheirVersion(template.id)).toBe(0);
    console.log(`usage: usage_count ${before.usage_count} -> ${after.usage_count}, ${experiments.n} experiments at version 2`);
  });

  it(`versions: ${CALLERS} concurrent content changes of one template end at version ${CALLERS + 1}, 1..${CALLERS + 1} each once`, async () => {
    const template = await createTemplateViaApi(api, owner, { name: 'Busy' });

    const result = await burst(
      'versions',
      Array.from(
        { length: CALLERS },
        (_, i) => () =>
          api.graphql(UPDATE, {
            as: owner,
            variables: {
              id: template.id,
              input: { description: `change ${i}`, configuration: validConfiguration({ parameters: { seed: i } }) },
            },
          }),
      ),
    );

    expect(errorsOf(result)).toEqual([]);
    const returned = result.responses.map((r) => r.body.data!.updateTemplate.version as number).sort((a, b) => a - b);
    expect(returned).toEqual(Array.from({ length: CALLERS }, (_, i) => i + 2));
    expect((await templateRow(template.id)).version).toBe(CALLERS + 1);
    expect(await versionNumbers(template.id)).toEqual(Array.from({ length: CALLERS + 1 }, (_, i) => i + 1));
    // Every change is in the history exactly once, and the template holds the last one written.
    const changes = await api.db.query<{ description: string; seed: number }>(
      `select description, (configuration #>> '{parameters,seed}')::int as seed from experiment_template_versions where template_id = $1 and version > 1`,
      [template.id],
    );
    expect(new Set(changes.map((c) => c.description)).size).toBe(CALLERS);
    expect(changes.every((c) => c.description === `change ${c.seed}`)).toBe(true);
    const [latest] = await api.db.query(
      'select description, configuration from experiment_template_versions where template_id = $1 and version = $2',
      [template.id, CALLERS + 1],
    );
    const current = await templateRow(template.id);
    expect({ description: current.description, configuration: current.configuration }).toEqual(latest);
    // One event per version, in the order the versions were written.
    const updates = (await auditEventsOf(api, template.id)).filter((event) => event.action === 'template.updated');
    expect(updates.map((event) => event.details.toVersion)).toEqual(Array.from({ length: CALLERS }, (_, i) => i + 2));
    console.log(`versions: version 1 -> ${current.version}, ${CALLERS + 1} snapshots, no gaps or duplicates`);
  });

  it(`shares: ${CALLERS} concurrent share/unshare of distinct users, and the same user shared 50 times at once, end in the exact set`, async () => {
    const template = await createTemplateViaApi(api, owner, { name: 'Shared' });
    const recipients = await newUsers(CALLERS + 1);
    const toShare = recipients.slice(0, CALLERS / 2);
    const toUnshare = recipients.slice(CALLERS / 2, CALLERS);
    const sameUser = recipients[CALLERS];
    dataOf(await api.graphql(SHARE, { as: owner, variables: { id: template.id, userIds: toUnshare } }));

    const calls = [
      ...toShare.map((userId) => () => api.graphql(SHARE, { as: owner, variables: { id: template.id, userIds: [userId] } })),
      ...toUnshare.map((userId) => () => api.graphql(UNSHARE, { as: owner, variables: { id: template.id, userIds: [userId] } })),
      ...Array.from(
        { length: 50 },
        () => () => api.graphql(SHARE, { as: owner, variables: { id: template.id, userIds: [sameUser, toShare[0]] } }),
      ),
    ];
    const result = await burst('shares', calls);

    expect(errorsOf(result)).toEqual([]);
    const expected = [...toShare, sameUser].sort();
    expect(await sharedWith(template.id)).toEqual(expected);
    const [rows] = await api.db.query(
      'select count(*)::int as n, count(distinct user_id)::int as users from experiment_template_shares where template_id = $1',
      [template.id],
    );
    expect(rows).toEqual({ n: expected.length, users: expected.length });
    // Sharing is not an edit of content.
    expect(await versionNumbers(template.id)).toEqual([1]);
    // One event per call that changed something, naming only what it changed: every user once as shared (after the
    // setup's event), every unshared user once as unshared, and no event naming nobody.
    const [created, setup, ...events] = await auditEventsOf(api, template.id);
    expect([created.action, setup.action, setup.details.userIds.length]).toEqual(['template.created', 'template.shared', toUnshare.length]);
    const named = (action: string) =>
      events.filter((event) => event.action === action).flatMap((event) => event.details.userIds as string[]);
    expect(events.every((event) => event.details.userIds.length > 0)).toBe(true);
    expect(named('template.shared').sort()).toEqual(expected);
    expect(named('template.unshared').sort()).toEqual([...toUnshare].sort());
    expect(events.length).toBeLessThanOrEqual(calls.length);
    console.log(
      `shares: ${rows.n} rows for ${expected.length} users, none duplicated; ${events.length} audit events for ${calls.length} calls`,
    );
  });

  it(`email shares: ${CALLERS} concurrent shares and unshares by address, beside first sign-ins, end in the exact state`, async () => {
    const template = await createTemplateViaApi(api, owner, { name: 'Shared by email' });
    const address = (label: string) => (i: number) => `${label}-${i}-${template.id.slice(0, 8)}@example.test`;
    const knownToShare = Array.from({ length: 50 }, (_, i) => address('known')(i));
    const knownToUnshare = Array.from({ length: 25 }, (_, i) => address('known-unshared')(i));
    const pendingToShare = Array.from({ length: 50 }, (_, i) => address('pending')(i));
    const pendingToUnshare = Array.from({ length: 25 }, (_, i) => address('pending-unshared')(i));
    // Shared while their first sign-in runs: whichever commits first, the address ends as a share of its user.
    const signingIn = Array.from({ length: 25 }, (_, i) => address('signing-in')(i));
    const sharedAtOnce = address('at-once')(0);
    const known = await api.db.query<{ id: string; email: string }>(
      `insert into users (external_id, email) select 'sub|' || email, email from unnest($1::text[]) as email returning id, email`,
      [[...knownToShare, ...knownToUnshare]],
    );
    const userOf = new Map(known.map((row) => [row.email, row.id]));
    dataOf(
      await api.graphql(SHARE_BY_EMAIL, { as: owner, variables: { id: template.id, emails: [...knownToUnshare, ...pendingToUnshare] } }),
    );
    const tokens = await Promise.all(signingIn.map((email) => signLocalToken({ secret: TEST_JWT_SECRET, email })));

    const byEmail = (mutation: string, email: string) => () =>
      api.graphql(mutation, { as: owner, variables: { id: template.id, emails: [email] } });
    const changes = [
      ...knownToShare.map((email) => byEmail(SHARE_BY_EMAIL, email)),
      ...pendingToShare.map((email) => byEmail(SHARE_BY_EMAIL, email)),
      ...knownToUnshare.map((email) => byEmail(UNSHARE_BY_EMAIL, email)),
      ...pendingToUnshare.map((email) => byEmail(UNSHARE_BY_EMAIL, email)),
      ...signingIn.map((email) => byEmail(SHARE_BY_EMAIL, email)),
      ...Array.from({ length: 25 }, () => byEmail(SHARE_BY_EMAIL, sharedAtOnce)),
    ];
    expect(changes).toHaveLength(CALLERS);
    const signIns = tokens.map((token) => () => api.graphql('{ me { id } }', { as: { token } }));
    const result = await burst('email shares', [...changes, ...signIns]);

    expect(errorsOf(result)).toEqual([]);
    const signedIn = new Map(signingIn.map((email, i) => [email, result.responses[CALLERS + i].body.data!.me.id as string]));
    expect(await sharedWith(template.id)).toEqual([...knownToShare.map((email) => userOf.get(email)!), ...signedIn.values()].sort());
    const pending = await api.db.query<{ email: string }>('select email from template_pending_shares where template_id = $1', [
      template.id,
    ]);
    expect(pending.map((row) => row.email).sort()).toEqual([...pendingToShare, sharedAtOnce].sort());

    // One event per effective change. An address signing in was either shared with its user, or pending and then
    // claimed by the sign-in: one event or two, never none and never a pending share left behind.
    const [, setup, ...events] = await auditEventsOf(api, template.id);
    expect(setup.details).toEqual({
      userIds: knownToUnshare.map((email) => userOf.get(email)),
      emails: knownToUnshare,
      pendingEmails: pendingToUnshare,
    });
    const detailsOf = (action: string) => events.filter((event) => event.action === action).map((event) => event.details);
    const shared = detailsOf('template.shared');
    const claimed = detailsOf('template.pending_share_claimed');
    const sharedPending = shared.flatMap((details) => details.pendingEmails as string[]);
    const sharedKnown = shared.flatMap((details) => details.emails as string[]);
    expect(sharedKnown.sort()).toEqual([...knownToShare, ...signingIn.filter((email) => !sharedPending.includes(email))].sort());
    expect(sharedPending.sort()).toEqual([...pendingToShare, sharedAtOnce, ...claimed.map((details) => details.email as string)].sort());
    expect(claimed.map((details) => details.email).sort()).toEqual(signingIn.filter((email) => sharedPending.includes(email)).sort());
    for (const details of claimed) expect(details.userId).toBe(signedIn.get(details.email as string));
    const unshared = detailsOf('template.unshared');
    expect(unshared.flatMap((details) => details.emails as string[]).sort()).toEqual([...knownToUnshare].sort());
    expect(unshared.flatMap((details) => details.pendingEmails as string[]).sort()).toEqual([...pendingToUnshare].sort());
    expect(events).toHaveLength(shared.length + claimed.length + unshared.length);
    expect(shared.length + unshared.length).toBe(CALLERS - 24);
    console.log(
      `email shares: ${claimed.length} of ${signingIn.length} addresses claimed at sign-in, the rest shared with a signed-in user`,
    );
  });

  it('mixed: updates, experiment creations, shares and visibility changes on one template at once', async () => {
    const template = await createTemplateViaApi(api, owner, { name: 'Everything at once' });
    dataOf(await api.graphql(SET_PUBLIC, { as: owner, variables: { id: template.id, isPublic: true } }));
    const recipients = await newUsers(40);
    const UPDATES = 60;
    const CREATIONS = 100;

    const calls: Array<() => Promise<GraphqlResponse>> = [
      ...Array.from(
        { length: UPDATES },
        (_, i) => () =>
          api.graphql(UPDATE, {
            as: owner,
            variables: {
              id: template.id,
              input: { name: `Mixed ${i}`, configuration: validConfiguration({ parameters: { seed: 1000 + i } }) },
            },
          }),
      ),
      // The owner's own, so a setTemplatePublic(false) in flight never hides the template from a caller.
      ...Array.from(
        { length: CREATIONS },
        (_, i) => () =>
          api.graphql(FROM_TEMPLATE, {
            as: i % 2 ? owner : users[0],
            variables: { input: { templateId: template.id, name: `mixed run ${i}` } },
          }),
      ),
      ...recipients.map(
        (userId, i) => () => api.graphql(i % 4 === 3 ? UNSHARE : SHARE, { as: owner, variables: { id: template.id, userIds: [userId] } }),
      ),
      // Visibility changes that take the same row lock (public stays public: users[0] must keep seeing it).
      ...Array.from({ length: 10 }, () => () => api.graphql(SET_PUBLIC, { as: owner, variables: { id: template.id, isPublic: true } })),
    ];
    // Interleave the kinds so that they really overlap.
    const interleaved = calls
      .map((call, i) => ({ call, key: (i * 7919) % calls.length }))
      .sort((a, b) => a.key - b.key)
      .map((c) => c.call);
    const result = await burst('mixed', interleaved);

    expect(errorsOf(result)).toEqual([]);
    const after = await templateRow(template.id);
    expect(after.version).toBe(1 + UPDATES);
    // Exactly one event per effective change: each update, each share (unsharing a user it was never shared with and
    // making a public template public change nothing), and each experiment's creation, on the experiment.
    const events = await auditEventsOf(api, template.id);
    const counted = (action: string) => events.filter((event) => event.action === action).length;
    expect(events).toHaveLength(2 + UPDATES + 30);
    expect([counted('template.created'), counted('template.published'), counted('template.updated'), counted('template.shared')]).toEqual([
      1,
      1,
      UPDATES,
      30,
    ]);
    // Written under the row lock, so in the order applied: each update's version follows the one before.
    const updated = events.filter((event) => event.action === 'template.updated').map((event) => event.details);
    expect(updated).toEqual(Array.from({ length: UPDATES }, (_, i) => expect.objectContaining({ fromVersion: i + 1, toVersion: i + 2 })));
    const [created] = await api.db.query(
      `select count(*)::int as n from audit_events a join ml_experiments e on e.id = a.subject_id
       where e.template_id = $1 and a.action = 'experiment.created'`,
      [template.id],
    );
    expect(created.n).toBe(CREATIONS);
    expect(await versionNumbers(template.id)).toEqual(Array.from({ length: 1 + UPDATES }, (_, i) => i + 1));
    expect(after.usage_count).toBe(CREATIONS);
    const [experiments] = await api.db.query('select count(*)::int as n from ml_experiments where template_id = $1', [template.id]);
    expect(experiments.n).toBe(CREATIONS);
    // Each experiment holds the configuration of the version it recorded: the version read with the count was current.
    expect(await experimentsMismatchingTheirVersion(template.id)).toBe(0);
    expect(await sharedWith(template.id)).toEqual(recipients.filter((_, i) => i % 4 !== 3).sort());
    console.log(`mixed: version 1 -> ${after.version}, usage_count ${after.usage_count}, ${(await sharedWith(template.id)).length} shares`);
  });
});
