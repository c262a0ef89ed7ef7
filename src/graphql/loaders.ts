import type { EntityManager } from '@mikro-orm/postgresql';
import type { ActorLookup } from '../auth/actor';
import { createExperimentLoaders } from '../experiment/experiment.loaders';
import { createTemplateLoaders } from '../template/template.loaders';
import { createUserLoaders } from '../user/user.loaders';

/** Built fresh for every request, never shared: a revoked share takes effect on the very next request. */
export function createLoaders(em: EntityManager, actor: ActorLookup) {
  return {
    ...createUserLoaders(em),
    ...createTemplateLoaders(em, actor),
    ...createExperimentLoaders(em, actor),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
