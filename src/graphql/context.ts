import type { EntityManager } from '@mikro-orm/postgresql';
import type { Actor } from '../auth/actor';
import type { Loaders } from './loaders';

/** Built fresh for every request: its own identity map, its own caller, its own loaders. */
export interface Context {
  requestId: string;
  em: EntityManager;
  actor: Actor | null;
  loaders: Loaders;
}
