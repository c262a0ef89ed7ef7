import { randomUUID } from 'node:crypto';
import type { Actor } from '../../src/auth/actor';
import { ErrorCode } from '../../src/errors/domain-error';
import { dataOf, useApi } from '../support/api';
import { createTemplateViaService, pathsOf, rejectionOf, services, type TestUser } from '../support/factories';

/**
 * Changes made through the service, and what callers see afterwards read through the API. Who may see what is
 * test/graphql/template-access.test.ts; anonymous callers are refused in test/graphql/access-matrix.test.ts.
 */

type Kind = 'private' | 'shared' | 'public';
type Viewer = 'owner' | 'shared' | 'stranger';

interface World {
  owner: TestUser;
  sharedUser: TestUser;
  stranger: TestUser;
  /** Someone nobody has shared anything with yet, for share calls. */
  bystander: TestUser;
  actor(viewer: Viewer): Actor;
  templateId: string;
}

describe('template access', () => {
  const api = useApi();
  const service = () => services(api).templates;

  /** Fresh users and one template of the given kind at version 2, shared with `sharedUser` unless private. */
  async function world(kind: Kind): Promise<World> {
    const [owner, sharedUser, stranger, bystander] = await Promise.all(
      ['owner', 'shared', 'stranger', 'bystander'].map((name) => api.user(name)),
    );
    const template = await createTemplateViaService(api, owner, { name: `A ${kind} template`, isPublic: kind === 'public' });
    if (kind !== 'private') await service().share(owner, template.id, [sharedUser.userId]);
    await service().update(owner, template.id, { description: 'second version' });
    const actors: Record<Viewer, Actor> = { owner, shared: sharedUser, stranger };
    return { owner, sharedUser, stranger, bystander, actor: (viewer) => actors[viewer], templateId: template.id };
  }

  /** Everything the database holds about one template. */
  async function stateOf(templateId: string) {
    const [template] = await api.db.query('select * from experiment_templates where id = $1', [templateId]);
    const versions = await api.db.query('select * from experiment_template_versions where template_id = $1 order by version', [templateId]);
    const shares = await api.db.query('select * from experiment_template_shares where template_id = $1 order by user_id', [templateId]);
    return { template, versions, shares };
  }

  /** What `template(id)` shows a caller of the template (null when hidden from them). */
  async function seen(as: TestUser | null, templateId: string) {
    const response = await api.graphql(
      'query($id: ID!) { template(id: $id) { id version isActive isPublic sharedWith { id } versions { version } } }',
      { as, variables: { id: templateId } },
    );
    return dataOf(response).template;
  }

  describe('owner-only actions', () => {
    const actions: Record<string, (actor: Actor, w: World, kind: Kind) => Promise<unknown>> = {
      update: (actor, w) => service().update(actor, w.templateId, { name: 'Hijacked', description: 'mine' }),
      revert: (actor, w) => service().revert(actor, w.templateId, 1),
      setActive: (actor, w) => service().setActive(actor, w.templateId, false),
      setPublic: (actor, w, kind) => service().setPublic(actor, w.templateId, kind !== 'public'),
      delete: (actor, w) => service().delete(actor, w.templateId),
      share: (actor, w) => service().share(actor, w.templateId, [w.bystander.userId]),
      unshare: (actor, w) => service().unshare(actor, w.templateId, [w.sharedUser.userId]),
    };
    const refusals: Array<[Viewer, Kind, ErrorCode]> = [
      ['shared', 'shared', ErrorCode.Forbidden],
      ['shared', 'public', ErrorCode.Forbidden],
      ['stranger', 'public', ErrorCode.Forbidden],
      ['shared', 'private', ErrorCode.NotFound],
      ['stranger', 'private', ErrorCode.NotFound],
      ['stranger', 'shared', ErrorCode.NotFound],
    ];
    const cases = Object.keys(actions).flatMap((action) => refusals.map(([viewer, kind, code]) => [action, viewer, kind, code] as const));

    it.each(cases)('%s by %s on a %s template is refused with %s and changes nothing', async (action, viewer, kind, code) => {
      const w = await world(kind);
      const before = await stateOf(w.templateId);
      const error = await rejectionOf(actions[action](w.actor(viewer), w, kind));
      expect(error.code).toBe(code);
      expect(await stateOf(w.templateId)).toEqual(before);
    });

    it.each(Object.keys(actions))('%s by the owner goes through', async (action) => {
      const w = await world('shared');
      const before = await stateOf(w.templateId);
      await actions[action](w.owner, w, 'shared');
      expect(await stateOf(w.templateId)).not.toEqual(before);
    });
  });

  describe('sharing', () => {
    it('is idempotent: sharing twice, or naming a user twice, gives one row', async () => {
      const w = await world('private');
      await service().share(w.owner, w.templateId, [w.stranger.userId]);
      await service().share(w.owner, w.templateId, [w.stranger.userId]);
      await service().share(w.owner, w.templateId, [w.bystander.userId, w.bystander.userId, w.stranger.userId]);
      const rows = await api.db.query(
        'select user_id, shared_by from experiment_template_shares where template_id = $1 order by shared_at, user_id',
        [w.templateId],
      );
      expect(rows).toHaveLength(2);
      expect(rows.map((r) => r.user_id).sort()).toEqual([w.stranger.userId, w.bystander.userId].sort());
      expect(rows.every((r) => r.shared_by === w.owner.userId)).toBe(true);
      expect((await seen(w.owner, w.templateId)).sharedWith).toEqual([{ id: w.stranger.id }, { id: w.bystander.id }]);
      expect(await seen(w.stranger, w.templateId)).toMatchObject({ id: w.templateId });
    });

    it('sharing with the owner is a no-op', async () => {
      const w = await world('private');
      await service().share(w.owner, w.templateId, [w.owner.userId]);
      expect((await stateOf(w.templateId)).shares).toEqual([]);
    });

    it('an unknown user id is BAD_USER_INPUT at its index, and nobody is shared with', async () => {
      const w = await world('private');
      const before = await stateOf(w.templateId);
      const error = await rejectionOf(
        service().share(w.owner, w.templateId, [w.stranger.userId, randomUUID(), w.bystander.userId, randomUUID()]),
      );
      expect(error.code).toBe(ErrorCode.BadUserInput);
      expect(pathsOf(error)).toEqual(['/userIds/1', '/userIds/3']);
      expect(await stateOf(w.templateId)).toEqual(before);
    });

    it.each([
      ['a malformed id', (w: World) => [w.stranger.userId, 'not-a-uuid'], ['/userIds/1']],
      ['a non-string id', (w: World) => [42 as unknown as string, w.stranger.userId], ['/userIds/0']],
      ['an empty list', () => [], ['/userIds']],
      ['over 100 ids', () => Array.from({ length: 101 }, () => randomUUID()), ['/userIds']],
    ])('%s is BAD_USER_INPUT for share and unshare, and changes nothing', async (_case, ids, paths) => {
      const w = await world('shared');
      const before = await stateOf(w.templateId);
      for (const call of [() => service().share(w.owner, w.templateId, ids(w)), () => service().unshare(w.owner, w.templateId, ids(w))]) {
        const error = await rejectionOf(call());
        expect(error.code).toBe(ErrorCode.BadUserInput);
        expect(pathsOf(error)).toEqual(paths);
      }
      expect(await stateOf(w.templateId)).toEqual(before);
    });

    it('unshare revokes visibility from the next request on', async () => {
      const w = await world('shared');
      expect(await seen(w.sharedUser, w.templateId)).toMatchObject({ id: w.templateId });

      await service().unshare(w.owner, w.templateId, [w.sharedUser.userId]);

      // Gone for them, history included.
      expect(await seen(w.sharedUser, w.templateId)).toBeNull();
      expect((await stateOf(w.templateId)).shares).toEqual([]);
      // Unsharing someone who has no share is harmless.
      await service().unshare(w.owner, w.templateId, [w.sharedUser.userId, w.stranger.userId]);
    });

    it('a shared user can use and clone the template but not edit it', async () => {
      const w = await world('shared');
      const copy = await service().clone(w.sharedUser, w.templateId);
      expect(copy.createdBy.id).toBe(w.sharedUser.userId);
      const experiment = await services(api).experiments.createFromTemplate(w.sharedUser, { templateId: w.templateId });
      expect(experiment.templateVersion).toBe(2);
      await expect(service().clone(w.stranger, w.templateId)).rejects.toMatchObject({ code: ErrorCode.NotFound });
    });
  });

  describe('publishing', () => {
    it('setPublic makes a template visible to strangers and anonymous callers, and back', async () => {
      const w = await world('private');
      expect(await seen(w.stranger, w.templateId)).toBeNull();
      expect(await seen(null, w.templateId)).toBeNull();

      const published = await service().setPublic(w.owner, w.templateId, true);
      expect(published.isPublic).toBe(true);
      expect(await seen(w.stranger, w.templateId)).toMatchObject({ id: w.templateId, isPublic: true });
      const anonymously = await seen(null, w.templateId);
      expect(anonymously).toMatchObject({ id: w.templateId });
      expect(anonymously.versions.map((v: { version: number }) => v.version)).toEqual([2, 1]);
      const copy = await service().clone(w.stranger, w.templateId);
      expect(copy.createdBy.id).toBe(w.stranger.userId);
      // Publishing is not content: no new version.
      expect((await stateOf(w.templateId)).template).toMatchObject({ version: 2, is_public: true });

      await service().setPublic(w.owner, w.templateId, false);
      expect(await seen(w.stranger, w.templateId)).toBeNull();
      expect(await seen(null, w.templateId)).toBeNull();
    });
  });

  describe('deactivation', () => {
    it('keeps the template visible to its owner with isActive false; reactivation restores it', async () => {
      const w = await world('shared');
      const before = await stateOf(w.templateId);

      const deactivated = await service().setActive(w.owner, w.templateId, false);
      expect(deactivated.isActive).toBe(false);
      expect(await seen(w.owner, w.templateId)).toMatchObject({ id: w.templateId, isActive: false, version: 2 });
      const after = await stateOf(w.templateId);
      expect(after.template.is_active).toBe(false);
      expect(after.template.version).toBe(2);
      expect(after.versions).toEqual(before.versions);
      expect(after.shares).toEqual(before.shares);
      expect((after.template.updated_at as Date).getTime()).toBeGreaterThanOrEqual((before.template.updated_at as Date).getTime());

      // It can no longer start experiments, for anyone.
      await expect(services(api).experiments.createFromTemplate(w.owner, { templateId: w.templateId })).rejects.toMatchObject({
        code: ErrorCode.Conflict,
      });

      const reactivated = await service().setActive(w.owner, w.templateId, true);
      expect(reactivated.isActive).toBe(true);
      expect(await seen(w.owner, w.templateId)).toMatchObject({ isActive: true });
      expect((await stateOf(w.templateId)).template.is_active).toBe(true);
      const experiment = await services(api).experiments.createFromTemplate(w.owner, { templateId: w.templateId });
      expect(experiment.templateVersion).toBe(2);
    });
  });

  describe('hard delete', () => {
    it('removes the template, its history and shares; experiments keep configuration and version, lose the link', async () => {
      const w = await world('shared');
      const experiments = services(api).experiments;
      const mine = await experiments.createFromTemplate(w.owner, { templateId: w.templateId, name: 'mine' });
      const theirs = await services(api).experiments.createFromTemplate(w.sharedUser, {
        templateId: w.templateId,
        overrides: { validation: { folds: 10 } },
      });
      const [before] = await api.db.query('select configuration from ml_experiments where id = $1', [theirs.id]);

      await service().delete(w.owner, w.templateId);

      // Gone for everyone, history included.
      expect(await seen(w.owner, w.templateId)).toBeNull();
      expect(await seen(w.sharedUser, w.templateId)).toBeNull();
      await expect(service().delete(w.owner, w.templateId)).rejects.toMatchObject({ code: ErrorCode.NotFound });
      const after = await stateOf(w.templateId);
      expect(after).toEqual({ template: undefined, versions: [], shares: [] });

      const rows = await api.db.query(
        'select id, template_id, template_version, configuration from ml_experiments where id = any($1) order by name',
        [[mine.id, theirs.id]],
      );
      expect(rows).toHaveLength(2);
      for (const row of rows) expect(row).toMatchObject({ template_id: null, template_version: 2 });
      expect(rows.find((r) => r.id === mine.id)!.configuration).toEqual(mine.configuration);
      expect(rows.find((r) => r.id === theirs.id)!.configuration).toEqual(before.configuration);
      expect(rows.find((r) => r.id === theirs.id)!.configuration.validation.folds).toBe(10);
    });
  });
});
