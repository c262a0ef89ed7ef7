import { randomUUID } from 'node:crypto';
import type { Actor } from '../../src/auth/actor';
import { ErrorCode } from '../../src/errors/domain-error';
import { ExperimentService } from '../../src/experiment/experiment.service';
import { TemplateService } from '../../src/template/template.service';
import { useApi } from '../support/api';
import { createTemplateViaService, pathsOf, rejectionOf, type TestUser } from '../support/factories';

type Kind = 'private' | 'shared' | 'public';
type Viewer = 'owner' | 'shared' | 'stranger' | 'anonymous';

const VISIBLE_TO: Record<Kind, Viewer[]> = {
  private: ['owner'],
  shared: ['owner', 'shared'],
  public: ['owner', 'shared', 'stranger', 'anonymous'],
};

interface World {
  owner: TestUser;
  sharedUser: TestUser;
  stranger: TestUser;
  /** Someone nobody has shared anything with yet, for share calls. */
  bystander: TestUser;
  actor(viewer: Viewer): Actor | null;
  templateId: string;
}

describe('template access', () => {
  const api = useApi();
  const service = () => new TemplateService(api.orm.em.fork());

  /** Fresh users and one template of the given kind at version 2, shared with `sharedUser` unless private. */
  async function world(kind: Kind): Promise<World> {
    const [owner, sharedUser, stranger, bystander] = await Promise.all(
      ['owner', 'shared', 'stranger', 'bystander'].map((name) => api.user(name)),
    );
    const template = await createTemplateViaService(api, owner, { name: `A ${kind} template`, isPublic: kind === 'public' });
    if (kind !== 'private') await service().share(owner, template.id, [sharedUser.userId]);
    await service().update(owner, template.id, { description: 'second version' });
    const actors: Record<Viewer, Actor | null> = { owner, shared: sharedUser, stranger, anonymous: null };
    return { owner, sharedUser, stranger, bystander, actor: (viewer) => actors[viewer], templateId: template.id };
  }

  /** Everything the database holds about one template. */
  async function stateOf(templateId: string) {
    const [template] = await api.db.query('select * from experiment_templates where id = $1', [templateId]);
    const versions = await api.db.query('select * from experiment_template_versions where template_id = $1 order by version', [templateId]);
    const shares = await api.db.query('select * from experiment_template_shares where template_id = $1 order by user_id', [templateId]);
    return { template, versions, shares };
  }

  /** What a caller can observe of an error. */
  function shapeOf(error: any) {
    return {
      class: error?.constructor?.name,
      name: error?.name,
      code: error?.code,
      message: error?.message,
      details: error?.details,
    };
  }

  describe('visibility', () => {
    const cases = (Object.keys(VISIBLE_TO) as Kind[]).flatMap((kind) =>
      (['owner', 'shared', 'stranger', 'anonymous'] as Viewer[]).map(
        (viewer) => [kind, viewer, VISIBLE_TO[kind].includes(viewer)] as const,
      ),
    );

    it.each(cases)('a %s template, seen by %s: visible = %s', async (kind, viewer, visible) => {
      const w = await world(kind);
      const actor = w.actor(viewer);
      const id = w.templateId;

      if (visible) {
        expect(await service().findVisible(actor, id)).toMatchObject({ id, version: 2 });
        expect((await service().versions(actor, id)).map((v) => v.version)).toEqual([2, 1]);
        expect(await service().version(actor, id, 1)).toMatchObject({ version: 1 });
        expect(await service().diff(actor, id, 1, 2)).toEqual([{ op: 'replace', path: '/description', value: 'second version' }]);
        expect((await service().sharedWith(actor, id)).map((u) => u.id)).toEqual(kind === 'private' ? [] : [w.sharedUser.userId]);
      } else {
        const notFound = shapeOf(await rejectionOf(service().versions(w.owner, randomUUID())));
        expect(notFound).toMatchObject({ code: ErrorCode.NotFound });
        expect(await service().findVisible(actor, id)).toBeNull();
        for (const read of [
          () => service().versions(actor, id),
          () => service().version(actor, id, 1),
          () => service().diff(actor, id, 1, 2),
          () => service().sharedWith(actor, id),
        ]) {
          expect(shapeOf(await rejectionOf(read()))).toEqual(notFound);
        }
      }
    });

    it("a hidden template's error is identical to a random UUID's and to a non-UUID string's", async () => {
      const w = await world('private');
      const ids = [w.templateId, randomUUID(), 'not-a-uuid', "' or 1=1 --", ''];
      const someone = [w.bystander.userId];
      const operations: Record<string, (id: string) => Promise<unknown>> = {
        versions: (id) => service().versions(w.stranger, id),
        version: (id) => service().version(w.stranger, id, 1),
        diff: (id) => service().diff(w.stranger, id, 1, 2),
        sharedWith: (id) => service().sharedWith(w.stranger, id),
        clone: (id) => service().clone(w.stranger, id),
        update: (id) => service().update(w.stranger, id, { name: 'x' }),
        revert: (id) => service().revert(w.stranger, id, 1),
        setActive: (id) => service().setActive(w.stranger, id, false),
        setPublic: (id) => service().setPublic(w.stranger, id, true),
        delete: (id) => service().delete(w.stranger, id),
        share: (id) => service().share(w.stranger, id, someone),
        unshare: (id) => service().unshare(w.stranger, id, someone),
      };
      for (const [name, operation] of Object.entries(operations)) {
        const shapes: Array<ReturnType<typeof shapeOf>> = [];
        for (const id of ids) shapes.push(shapeOf(await rejectionOf(operation(id))));
        expect({ name, shapes }).toEqual({ name, shapes: ids.map(() => shapes[1]) });
        expect(shapes[1]).toMatchObject({ code: ErrorCode.NotFound });
      }
      for (const id of ids) expect(await service().findVisible(w.stranger, id)).toBeNull();
    });
  });

  describe('owner-only actions', () => {
    const actions: Record<string, (actor: Actor | null, w: World, kind: Kind) => Promise<unknown>> = {
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
      ['anonymous', 'public', ErrorCode.Unauthenticated],
      ['anonymous', 'private', ErrorCode.Unauthenticated],
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
      expect((await service().sharedWith(w.owner, w.templateId)).map((u) => u.id)).toEqual([w.stranger.userId, w.bystander.userId]);
      expect(await service().findVisible(w.stranger, w.templateId)).not.toBeNull();
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

    it('unshare revokes visibility at once for a fresh EntityManager', async () => {
      const w = await world('shared');
      const sharedUserService = new TemplateService(api.orm.em.fork());
      expect(await sharedUserService.findVisible(w.sharedUser, w.templateId)).not.toBeNull();

      await service().unshare(w.owner, w.templateId, [w.sharedUser.userId]);

      expect(await service().findVisible(w.sharedUser, w.templateId)).toBeNull();
      // Even the EntityManager that already holds the template in its identity map asks the database again.
      expect(await sharedUserService.findVisible(w.sharedUser, w.templateId)).toBeNull();
      await expect(service().versions(w.sharedUser, w.templateId)).rejects.toMatchObject({ code: ErrorCode.NotFound });
      expect((await stateOf(w.templateId)).shares).toEqual([]);
      // Unsharing someone who has no share is harmless.
      await service().unshare(w.owner, w.templateId, [w.sharedUser.userId, w.stranger.userId]);
    });

    it('a shared user can use and clone the template but not edit it', async () => {
      const w = await world('shared');
      const copy = await service().clone(w.sharedUser, w.templateId);
      expect(copy.createdBy.id).toBe(w.sharedUser.userId);
      const experiment = await new ExperimentService(api.orm.em.fork()).createFromTemplate(w.sharedUser, { templateId: w.templateId });
      expect(experiment.templateVersion).toBe(2);
      await expect(service().clone(w.stranger, w.templateId)).rejects.toMatchObject({ code: ErrorCode.NotFound });
    });
  });

  describe('publishing', () => {
    it('setPublic makes a template visible to strangers and anonymous callers, and back', async () => {
      const w = await world('private');
      expect(await service().findVisible(w.stranger, w.templateId)).toBeNull();
      expect(await service().findVisible(null, w.templateId)).toBeNull();

      const published = await service().setPublic(w.owner, w.templateId, true);
      expect(published.isPublic).toBe(true);
      expect(await service().findVisible(w.stranger, w.templateId)).toMatchObject({ id: w.templateId, isPublic: true });
      expect(await service().findVisible(null, w.templateId)).toMatchObject({ id: w.templateId });
      expect((await service().versions(null, w.templateId)).map((v) => v.version)).toEqual([2, 1]);
      const copy = await service().clone(w.stranger, w.templateId);
      expect(copy.createdBy.id).toBe(w.stranger.userId);
      // Publishing is not content: no new version.
      expect((await stateOf(w.templateId)).template).toMatchObject({ version: 2, is_public: true });

      await service().setPublic(w.owner, w.templateId, false);
      expect(await service().findVisible(w.stranger, w.templateId)).toBeNull();
      expect(await service().findVisible(null, w.templateId)).toBeNull();
    });
  });

  describe('deactivation', () => {
    it('keeps the template visible to its owner with isActive false; reactivation restores it', async () => {
      const w = await world('shared');
      const before = await stateOf(w.templateId);

      const deactivated = await service().setActive(w.owner, w.templateId, false);
      expect(deactivated.isActive).toBe(false);
      const seen = await service().findVisible(w.owner, w.templateId);
      expect(seen).toMatchObject({ id: w.templateId, isActive: false, version: 2 });
      const after = await stateOf(w.templateId);
      expect(after.template.is_active).toBe(false);
      expect(after.template.version).toBe(2);
      expect(after.versions).toEqual(before.versions);
      expect(after.shares).toEqual(before.shares);
      expect((after.template.updated_at as Date).getTime()).toBeGreaterThanOrEqual((before.template.updated_at as Date).getTime());

      // It can no longer start experiments, for anyone.
      await expect(
        new ExperimentService(api.orm.em.fork()).createFromTemplate(w.owner, { templateId: w.templateId }),
      ).rejects.toMatchObject({
        code: ErrorCode.Conflict,
      });

      const reactivated = await service().setActive(w.owner, w.templateId, true);
      expect(reactivated.isActive).toBe(true);
      expect(await service().findVisible(w.owner, w.templateId)).toMatchObject({ isActive: true });
      expect((await stateOf(w.templateId)).template.is_active).toBe(true);
      const experiment = await new ExperimentService(api.orm.em.fork()).createFromTemplate(w.owner, { templateId: w.templateId });
      expect(experiment.templateVersion).toBe(2);
    });
  });

  describe('hard delete', () => {
    it('removes the template, its history and shares; experiments keep configuration and version, lose the link', async () => {
      const w = await world('shared');
      const experiments = new ExperimentService(api.orm.em.fork());
      const mine = await experiments.createFromTemplate(w.owner, { templateId: w.templateId, name: 'mine' });
      const theirs = await new ExperimentService(api.orm.em.fork()).createFromTemplate(w.sharedUser, {
        templateId: w.templateId,
        overrides: { validation: { folds: 10 } },
      });
      const [before] = await api.db.query('select configuration from ml_experiments where id = $1', [theirs.id]);

      expect(await service().delete(w.owner, w.templateId)).toBe(true);

      expect(await service().findVisible(w.owner, w.templateId)).toBeNull();
      expect(await service().findVisible(w.sharedUser, w.templateId)).toBeNull();
      await expect(service().versions(w.owner, w.templateId)).rejects.toMatchObject({ code: ErrorCode.NotFound });
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
