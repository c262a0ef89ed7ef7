import type { EntityManager } from '@mikro-orm/postgresql';
import type { Actor } from '../auth/actor';
import { createExperimentLoaders } from '../experiment/experiment.loaders';
import { createTemplateLoaders } from '../template/template.loaders';
import { createUserLoaders } from '../user/user.loaders';

/** The caller as the loaders see it: looked up once per request, on first use. */
export type ActorLookup = () => Promise<Actor | null>;

/** Built fresh for every request, never shared: a revoked share takes effect on the very next request. */
export function createLoaders(em: EntityManager, actor: ActorLookup) {
  return {
    ...createUserLoaders(em),
    ...createTemplateLoaders(em, actor),
    ...createExperimentLoaders(em, actor),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
