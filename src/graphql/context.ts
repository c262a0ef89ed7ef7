import type { EntityManager } from '@mikro-orm/postgresql';
import type { Actor } from '../auth/actor';

/** Built fresh for every request: its own identity map, its own caller. */
export interface Context {
  requestId: string;
  em: EntityManager;
  actor: Actor | null;
}
