import { createAuditLoaders } from '../audit/audit.loaders';
import type { ActorLookup } from '../auth/actor';
import type { Reader } from '../db/sql';
import { createExperimentLoaders } from '../experiment/experiment.loaders';
import { createTeamLoaders } from '../team/team.loaders';
import { createTemplateLoaders } from '../template/template.loaders';
import { createUserLoaders } from '../user/user.loaders';

/** Built fresh for every request, never shared: a revoked share takes effect on the very next request. */
export function createLoaders(reader: Reader, actor: ActorLookup, requireEmailVerified: boolean) {
  const users = createUserLoaders(reader, requireEmailVerified);
  return {
    ...users,
    ...createTemplateLoaders(reader, actor, users.usersSeen),
    ...createTeamLoaders(reader, actor, users.usersSeen),
    ...createExperimentLoaders(reader, actor),
    ...createAuditLoaders(reader, users.usersSeen),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
