import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { dataOf, errorOf, TEST_JWT_SECRET, useApi, type Api } from '../support/api';
import { auditEventsOf, createTemplateViaApi, type TestUser } from '../support/factories';

/**
 * Sharing by email over real HTTP: an address a user holds shares with them; one nobody holds is a pending share that
 * the first sign-in with that address (trusted: `email_verified` not false, or true under REQUIRE_EMAIL_VERIFIED)
 * turns into a share, in the same transaction as the user's row, with its audit event.
 */

const SHARE = `mutation($id: ID!, $userIds: [ID!], $emails: [String!]) {
  shareTemplate(id: $id, userIds: $userIds, emails: $emails) { id sharedWith { id } pendingShares { email invitedAt } } }`;
const UNSHARE = `mutation($id: ID!, $userIds: [ID!], $emails: [String!]) {
  unshareTemplate(id: $id, userIds: $userIds, emails: $emails) { id sharedWith { id } pendingShares { email } } }`;
const READ = 'query($id: ID!) { template(id: $id) { id sharedWith { id } pendingShares { email } } }';

/** A token as an identity provider would sign it: any subject, any address, with or without `email_verified`. */
async function tokenFor(claims: {
  sub?: string;
  email: string;
  emailVerified?: boolean | string;
  name?: string;
}): Promise<{ token: string }> {
  const payload: Record<string, unknown> = { email: claims.email, name: claims.name ?? claims.email.split('@')[0] };
  if (claims.emailVerified !== undefined) payload.email_verified = claims.emailVerified;
  const token = await new SignJWT(payload)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(claims.sub ?? `idp|${randomUUID()}`)
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(TEST_JWT_SECRET));
  return { token };
}

function newAddress(name = 'invitee'): string {
  return `${name}-${randomUUID().slice(0, 8)}@example.test`;
}

async function signIn(api: Api, caller: { token: string }): Promise<string> {
  return dataOf(await api.graphql('{ me { id } }', { as: caller })).me.id;
}

async function privateTemplate(api: Api, owner: TestUser) {
  return createTemplateViaApi(api, owner, { isPublic: false });
}

describe('sharing by email', () => {
  const api = useApi();

  it('shares with the user an address names, compared lower-cased, and audits the addresses', async () => {
    const owner = await api.user('owner');
    const friend = await api.user('friend');
    const template = await privateTemplate(api, owner);
    const shared = dataOf(
      await api.graphql(SHARE, { as: owner, variables: { id: template.id, emails: [`  ${friend.email.toUpperCase()} `] } }),
    ).shareTemplate;
    expect(shared).toEqual({ id: template.id, sharedWith: [{ id: friend.id }], pendingShares: [] });
    expect(dataOf(await api.graphql(READ, { as: friend, variables: { id: template.id } })).template.id).toBe(template.id);

    // Again, by id and by address: nothing changes, no event.
    dataOf(await api.graphql(SHARE, { as: owner, variables: { id: template.id, userIds: [friend.id], emails: [friend.email] } }));
    const events = (await auditEventsOf(api, template.id)).filter((event) => event.action === 'template.shared');
    expect(events.map((event) => event.details)).toEqual([{ userIds: [friend.id], emails: [friend.email], pendingEmails: [] }]);
  });

  it('keeps an address nobody holds as a pending share that the first sign-in with it claims', async () => {
    const owner = await api.user('owner');
    const template = await privateTemplate(api, owner);
    const address = newAddress();
    const shared = dataOf(await api.graphql(SHARE, { as: owner, variables: { id: template.id, emails: [address.toUpperCase()] } }));
    expect(shared.shareTemplate.sharedWith).toEqual([]);
    expect(shared.shareTemplate.pendingShares).toEqual([{ email: address, invitedAt: expect.any(String) }]);

    const invitee = await tokenFor({ email: address });
    expect(dataOf(await api.graphql(READ, { as: invitee, variables: { id: template.id } }))).toEqual({
      template: { id: template.id, sharedWith: [], pendingShares: [] },
    });
    const inviteeId = await signIn(api, invitee);
    expect(dataOf(await api.graphql(READ, { as: owner, variables: { id: template.id } })).template).toEqual({
      id: template.id,
      sharedWith: [{ id: inviteeId }],
      pendingShares: [],
    });

    const events = await auditEventsOf(api, template.id);
    expect(events.map(({ action, actorId, actorKind, details }) => ({ action, actorId, actorKind, details }))).toEqual([
      expect.objectContaining({ action: 'template.created' }),
      { action: 'template.shared', actorId: owner.id, actorKind: 'user', details: { userIds: [], emails: [], pendingEmails: [address] } },
      {
        action: 'template.pending_share_claimed',
        actorId: inviteeId,
        actorKind: 'user',
        details: { email: address, userId: inviteeId },
      },
    ]);
  });

  it('makes the first sign-in the one that claims: the sign-ins after it write nothing', async () => {
    const owner = await api.user('owner');
    const templates = [await privateTemplate(api, owner), await privateTemplate(api, owner)];
    const address = newAddress();
    for (const template of templates) dataOf(await api.graphql(SHARE, { as: owner, variables: { id: template.id, emails: [address] } }));
    const invitee = await tokenFor({ email: address, emailVerified: true });
    const inviteeId = await signIn(api, invitee);
    const { statements } = await api.countStatements(() => signIn(api, invitee));
    expect(statements.filter((sql) => /^\s*(insert|update|delete|with)/i.test(sql))).toEqual([]);
    for (const template of templates) {
      expect(dataOf(await api.graphql(READ, { as: invitee, variables: { id: template.id } })).template.id).toBe(template.id);
      expect((await auditEventsOf(api, template.id)).filter((event) => event.action === 'template.pending_share_claimed')).toHaveLength(1);
    }
    expect(inviteeId).toEqual(expect.any(String));
  });

  it('never lets an address the provider says is unverified stand for its user, until it says verified', async () => {
    const owner = await api.user('owner');
    const template = await privateTemplate(api, owner);
    const address = newAddress();
    const sub = `idp|${randomUUID()}`;
    const unverified = await tokenFor({ sub, email: address, emailVerified: false });
    const userId = await signIn(api, unverified);

    // The user holds the address but cannot be named by it: the share waits.
    const shared = dataOf(await api.graphql(SHARE, { as: owner, variables: { id: template.id, emails: [address] } })).shareTemplate;
    expect(shared).toMatchObject({ sharedWith: [], pendingShares: [{ email: address }] });
    expect(dataOf(await api.graphql(READ, { as: unverified, variables: { id: template.id } })).template).toBeNull();
    expect(
      dataOf(await api.graphql('query($e: String!) { userByEmail(email: $e) { id } }', { as: owner, variables: { e: address } })),
    ).toEqual({
      userByEmail: null,
    });

    // A later token of the same subject says it is verified: that write of the row claims the share.
    const verified = await tokenFor({ sub, email: address, emailVerified: true });
    expect(await signIn(api, verified)).toBe(userId);
    expect(dataOf(await api.graphql(READ, { as: owner, variables: { id: template.id } })).template).toMatchObject({
      sharedWith: [{ id: userId }],
      pendingShares: [],
    });
  });

  it('reads email_verified sent as text, as some providers send it', async () => {
    const owner = await api.user('owner');
    const template = await privateTemplate(api, owner);
    const address = newAddress();
    dataOf(await api.graphql(SHARE, { as: owner, variables: { id: template.id, emails: [address] } }));
    const sub = `idp|${randomUUID()}`;
    const userId = await signIn(api, await tokenFor({ sub, email: address, emailVerified: 'false' }));
    expect(dataOf(await api.graphql(READ, { as: owner, variables: { id: template.id } })).template.sharedWith).toEqual([]);
    await signIn(api, await tokenFor({ sub, email: address, emailVerified: 'true' }));
    expect(dataOf(await api.graphql(READ, { as: owner, variables: { id: template.id } })).template.sharedWith).toEqual([{ id: userId }]);
  });

  it('claims the pending shares of an address a known user changes to', async () => {
    const owner = await api.user('owner');
    const template = await privateTemplate(api, owner);
    const sub = `idp|${randomUUID()}`;
    const userId = await signIn(api, await tokenFor({ sub, email: newAddress('before') }));
    const address = newAddress('after');
    dataOf(await api.graphql(SHARE, { as: owner, variables: { id: template.id, emails: [address] } }));
    expect(await signIn(api, await tokenFor({ sub, email: address }))).toBe(userId);
    expect(dataOf(await api.graphql(READ, { as: owner, variables: { id: template.id } })).template).toMatchObject({
      sharedWith: [{ id: userId }],
      pendingShares: [],
    });
  });

  it("passes over the owner's own address, as it does the owner's own id", async () => {
    const owner = await api.user('owner');
    const template = await privateTemplate(api, owner);
    const shared = dataOf(
      await api.graphql(SHARE, { as: owner, variables: { id: template.id, userIds: [owner.id], emails: [owner.email] } }),
    ).shareTemplate;
    expect(shared).toEqual({ id: template.id, sharedWith: [], pendingShares: [] });
    expect((await auditEventsOf(api, template.id)).map((event) => event.action)).toEqual(['template.created']);
  });

  it("lets staff share anyone's template by email: the owner's address passed over, the staff member the one who invited", async () => {
    const owner = await api.user('owner');
    const friend = await api.user('friend');
    const staff = await api.user('staff', ['admin']);
    const template = await privateTemplate(api, owner);
    const address = newAddress();
    const shared = dataOf(
      await api.graphql(SHARE, { as: staff, variables: { id: template.id, emails: [owner.email.toUpperCase(), friend.email, address] } }),
    ).shareTemplate;
    // Staff see the template's shares and pending shares, as its owner does.
    expect(shared).toEqual({
      id: template.id,
      sharedWith: [{ id: friend.id }],
      pendingShares: [{ email: address, invitedAt: expect.any(String) }],
    });
    expect(dataOf(await api.graphql(READ, { as: owner, variables: { id: template.id } })).template).toEqual({
      id: template.id,
      sharedWith: [{ id: friend.id }],
      pendingShares: [{ email: address }],
    });
    const [pending] = await api.db.query<{ invited_by: string }>('select invited_by from template_pending_shares where template_id = $1', [
      template.id,
    ]);
    expect(pending.invited_by).toBe(staff.id);

    // Claimed, the share records the staff member as its sharer, as a share by id from staff does.
    const inviteeId = await signIn(api, await tokenFor({ email: address }));
    const shares = await api.db.query<{ user_id: string; shared_by: string }>(
      'select user_id, shared_by from experiment_template_shares where template_id = $1 order by user_id',
      [template.id],
    );
    expect(shares).toEqual(
      expect.arrayContaining([
        { user_id: friend.id, shared_by: staff.id },
        { user_id: inviteeId, shared_by: staff.id },
      ]),
    );
    expect(shares).toHaveLength(2);
    // The owner's own address unshared by staff changes nothing either: no event.
    dataOf(await api.graphql(UNSHARE, { as: staff, variables: { id: template.id, emails: [owner.email] } }));
    const events = (await auditEventsOf(api, template.id)).filter((event) => event.action !== 'template.created');
    expect(events.map(({ action, actorId, actorKind, details }) => ({ action, actorId, actorKind, details }))).toEqual([
      {
        action: 'template.shared',
        actorId: staff.id,
        actorKind: 'staff',
        details: { userIds: [friend.id], emails: [friend.email], pendingEmails: [address] },
      },
      {
        action: 'template.pending_share_claimed',
        actorId: inviteeId,
        actorKind: 'user',
        details: { email: address, userId: inviteeId },
      },
    ]);
  });

  it('unshares by address: the share of the user it names, or its pending share', async () => {
    const owner = await api.user('owner');
    const friend = await api.user('friend');
    const template = await privateTemplate(api, owner);
    const address = newAddress();
    const staying = newAddress('staying');
    dataOf(await api.graphql(SHARE, { as: owner, variables: { id: template.id, emails: [friend.email, address, staying] } }));
    const unshared = dataOf(
      await api.graphql(UNSHARE, {
        as: owner,
        variables: { id: template.id, emails: [friend.email.toUpperCase(), address, newAddress()] },
      }),
    ).unshareTemplate;
    // Only the addresses named: another pending share stays.
    expect(unshared).toEqual({ id: template.id, sharedWith: [], pendingShares: [{ email: staying }] });
    expect(dataOf(await api.graphql(READ, { as: friend, variables: { id: template.id } })).template).toBeNull();
    // The pending share is gone: a sign-in with the address gets nothing.
    const invitee = await tokenFor({ email: address });
    await signIn(api, invitee);
    expect(dataOf(await api.graphql(READ, { as: invitee, variables: { id: template.id } })).template).toBeNull();

    const unshares = (await auditEventsOf(api, template.id)).filter((event) => event.action === 'template.unshared');
    expect(unshares.map((event) => event.details)).toEqual([{ userIds: [friend.id], emails: [friend.email], pendingEmails: [address] }]);
    // Nothing left to unshare: no event.
    dataOf(await api.graphql(UNSHARE, { as: owner, variables: { id: template.id, emails: [address] } }));
    expect((await auditEventsOf(api, template.id)).filter((event) => event.action === 'template.unshared')).toHaveLength(1);
  });

  it('refuses what is not an address at the path of the list element, and a call that names nobody', async () => {
    const owner = await api.user('owner');
    const template = await privateTemplate(api, owner);
    const invalid = errorOf(
      await api.graphql(SHARE, {
        as: owner,
        variables: {
          id: template.id,
          emails: ['ok@example.test', 'not-an-address', `${'a'.repeat(250)}@example.test`, 'two@@example.test'],
        },
      }),
    );
    expect(invalid.code).toBe('BAD_USER_INPUT');
    expect(invalid.extensions.validationErrors.map((error: { path: string }) => error.path)).toEqual([
      '/emails/1',
      '/emails/2',
      '/emails/3',
    ]);
    for (const variables of [{}, { userIds: [], emails: [] }]) {
      const empty = errorOf(await api.graphql(SHARE, { as: owner, variables: { id: template.id, ...variables } }));
      expect(empty.extensions.validationErrors).toEqual([{ path: '/userIds', message: 'must list at least one user' }]);
    }
    const tooMany = errorOf(
      await api.graphql(UNSHARE, { as: owner, variables: { id: template.id, emails: Array.from({ length: 101 }, () => newAddress()) } }),
    );
    expect(tooMany.extensions.validationErrors).toEqual([{ path: '/emails', message: 'must list at most 100 addresses' }]);
    expect(dataOf(await api.graphql(READ, { as: owner, variables: { id: template.id } })).template.pendingShares).toEqual([]);
  });

  it('answers for a template the caller cannot see exactly as for a random id, and shows pending shares to the owner and staff only', async () => {
    const owner = await api.user('owner');
    const stranger = await api.user('stranger');
    const hidden = await privateTemplate(api, owner);
    const address = newAddress();
    const answers = [];
    for (const id of [hidden.id, randomUUID()]) {
      for (const mutation of [SHARE, UNSHARE]) {
        const response = await api.graphql(mutation, { as: stranger, variables: { id, emails: [address] } });
        answers.push({ status: response.status, data: response.body.data, error: errorOf(response) });
      }
    }
    expect(answers.slice(0, 2)).toEqual(answers.slice(2));
    expect(answers[0].error.code).toBe('NOT_FOUND');

    const published = await createTemplateViaApi(api, owner, { isPublic: true });
    dataOf(await api.graphql(SHARE, { as: owner, variables: { id: published.id, emails: [address] } }));
    for (const as of [null, stranger]) {
      expect(dataOf(await api.graphql(READ, { as, variables: { id: published.id } })).template.pendingShares).toEqual([]);
    }
    for (const as of [owner, await api.user('staff', ['admin'])]) {
      expect(dataOf(await api.graphql(READ, { as, variables: { id: published.id } })).template.pendingShares).toEqual([{ email: address }]);
    }
    const sharedByEmail = await api.graphql(SHARE, { as: stranger, variables: { id: published.id, emails: [stranger.email] } });
    expect(errorOf(sharedByEmail).code).toBe('FORBIDDEN');
  });

  it('keeps the old signature: userIds as a required list, no emails', async () => {
    const owner = await api.user('owner');
    const friend = await api.user('friend');
    const template = await privateTemplate(api, owner);
    const old = 'mutation($id: ID!, $userIds: [ID!]!) { shareTemplate(id: $id, userIds: $userIds) { id sharedWith { id } } }';
    expect(dataOf(await api.graphql(old, { as: owner, variables: { id: template.id, userIds: [friend.id] } })).shareTemplate).toEqual({
      id: template.id,
      sharedWith: [{ id: friend.id }],
    });
    expect((await auditEventsOf(api, template.id)).at(-1)!.details).toEqual({ userIds: [friend.id] });
  });
});

describe('sharing by email with REQUIRE_EMAIL_VERIFIED=true', () => {
  const api = useApi({ env: { REQUIRE_EMAIL_VERIFIED: 'true' } });

  it('lets only an address the provider says is verified stand for its user', async () => {
    const owner = await api.user('owner');
    const template = await privateTemplate(api, owner);
    const silent = newAddress('silent');
    const verified = newAddress('verified');
    const silentUser = await tokenFor({ email: silent });
    const silentId = await signIn(api, silentUser);
    const shared = dataOf(
      await api.graphql(SHARE, { as: owner, variables: { id: template.id, emails: [silent, verified] } }),
    ).shareTemplate;
    expect(shared.sharedWith).toEqual([]);
    expect(shared.pendingShares.map((pending: { email: string }) => pending.email).sort()).toEqual([silent, verified].sort());

    const verifiedId = await signIn(api, await tokenFor({ email: verified, emailVerified: true }));
    expect(dataOf(await api.graphql(READ, { as: owner, variables: { id: template.id } })).template).toEqual({
      id: template.id,
      sharedWith: [{ id: verifiedId }],
      pendingShares: [{ email: silent }],
    });
    expect(silentId).not.toBe(verifiedId);
  });
});
