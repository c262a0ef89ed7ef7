import { randomUUID } from 'node:crypto';
import { dataOf, errorOf, useApi, type GraphqlResponse } from '../support/api';
import { createTemplateViaApi, type TestUser } from '../support/factories';

type Kind = 'private' | 'shared' | 'public';
type Viewer = 'owner' | 'shared' | 'stranger' | 'anonymous';

const VISIBLE_TO: Record<Kind, Viewer[]> = {
  private: ['owner'],
  shared: ['owner', 'shared'],
  public: ['owner', 'shared', 'stranger', 'anonymous'],
};

/** The template with everything a caller may read of it: its history, one version, a diff and its shares. */
const READ = /* GraphQL */ `
  query Read($id: ID!) {
    template(id: $id) {
      id
      version
      versions {
        version
      }
      versionSnapshot(version: 1) {
        version
      }
      diff(from: 1, to: 2) {
        op
        path
        value
      }
      sharedWith {
        id
      }
    }
  }
`;
const UPDATE = 'mutation($id: ID!, $input: UpdateTemplateInput!) { updateTemplate(id: $id, input: $input) { version } }';
const SHARE = 'mutation($id: ID!, $userIds: [ID!]!) { shareTemplate(id: $id, userIds: $userIds) { id } }';

interface World {
  owner: TestUser;
  sharedUser: TestUser;
  stranger: TestUser;
  /** Someone nobody has shared anything with yet, for share calls. */
  bystander: TestUser;
  caller(viewer: Viewer): TestUser | null;
  templateId: string;
}

describe('template access over HTTP', () => {
  const api = useApi();

  /** Fresh users and one template of the given kind at version 2, shared with `sharedUser` unless private. */
  async function world(kind: Kind): Promise<World> {
    const [owner, sharedUser, stranger, bystander] = await Promise.all(
      ['owner', 'shared', 'stranger', 'bystander'].map((name) => api.user(name)),
    );
    const { id } = await createTemplateViaApi(api, owner, { name: `A ${kind} template`, isPublic: kind === 'public' });
    if (kind !== 'private') dataOf(await api.graphql(SHARE, { as: owner, variables: { id, userIds: [sharedUser.id] } }));
    dataOf(await api.graphql(UPDATE, { as: owner, variables: { id, input: { description: 'second version' } } }));
    const callers: Record<Viewer, TestUser | null> = { owner, shared: sharedUser, stranger, anonymous: null };
    return { owner, sharedUser, stranger, bystander, caller: (viewer) => callers[viewer], templateId: id };
  }

  describe('visibility', () => {
    const cases = (Object.keys(VISIBLE_TO) as Kind[]).flatMap((kind) =>
      (['owner', 'shared', 'stranger', 'anonymous'] as Viewer[]).map(
        (viewer) => [kind, viewer, VISIBLE_TO[kind].includes(viewer)] as const,
      ),
    );

    it.each(cases)('a %s template, seen by %s: visible = %s', async (kind, viewer, visible) => {
      const w = await world(kind);
      const as = w.caller(viewer);
      const id = w.templateId;
      const response = await api.graphql(READ, { as, variables: { id } });

      if (visible) {
        const { template } = dataOf(response);
        expect(template).toMatchObject({ id, version: 2 });
        expect(template.versions.map((v: { version: number }) => v.version)).toEqual([2, 1]);
        expect(template.versionSnapshot).toMatchObject({ version: 1 });
        expect(template.diff).toEqual([{ op: 'replace', path: '/description', value: 'second version' }]);
        // Who else has it is the owner's business: anyone else sees an empty list.
        const shares = viewer === 'owner' && kind !== 'private' ? [w.sharedUser.id] : [];
        expect(template.sharedWith.map((u: { id: string }) => u.id)).toEqual(shares);
      } else {
        const unknown = await api.graphql(READ, { as, variables: { id: randomUUID() } });
        expect(unknown).toEqual({ status: 200, body: { data: { template: null } } });
        expect(response).toEqual(unknown);
      }
    });

    it("a hidden template's answer is identical to a random UUID's and to a non-UUID string's", async () => {
      const w = await world('private');
      const ids = [w.templateId, randomUUID(), 'not-a-uuid', "' or 1=1 --", ''];
      const someone = [w.bystander.id];
      const operations: Record<string, [document: string, variables: (id: string) => Record<string, unknown>]> = {
        template: [READ, (id) => ({ id })],
        cloneTemplate: ['mutation($id: ID!) { cloneTemplate(id: $id) { id } }', (id) => ({ id })],
        updateTemplate: ['mutation($id: ID!) { updateTemplate(id: $id, input: { name: "x" }) { id } }', (id) => ({ id })],
        revertTemplate: ['mutation($id: ID!) { revertTemplate(id: $id, toVersion: 1) { id } }', (id) => ({ id })],
        deactivateTemplate: ['mutation($id: ID!) { deactivateTemplate(id: $id) { id } }', (id) => ({ id })],
        setTemplatePublic: ['mutation($id: ID!) { setTemplatePublic(id: $id, isPublic: true) { id } }', (id) => ({ id })],
        deleteTemplate: ['mutation($id: ID!) { deleteTemplate(id: $id) }', (id) => ({ id })],
        shareTemplate: [SHARE, (id) => ({ id, userIds: someone })],
        unshareTemplate: [
          'mutation($id: ID!, $userIds: [ID!]!) { unshareTemplate(id: $id, userIds: $userIds) { id } }',
          (id) => ({ id, userIds: someone }),
        ],
      };
      for (const [name, [document, variables]] of Object.entries(operations)) {
        const responses: GraphqlResponse[] = [];
        for (const id of ids) responses.push(await api.graphql(document, { as: w.stranger, variables: variables(id) }));
        expect({ name, responses }).toEqual({ name, responses: ids.map(() => responses[1]) });
        if (name === 'template') expect(responses[1].body).toEqual({ data: { template: null } });
        else expect(errorOf(responses[1]).code).toBe('NOT_FOUND');
      }
    });
  });
});
