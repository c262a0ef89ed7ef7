import type { EntityManager } from '@mikro-orm/postgresql';
import type { Actor } from '../auth/actor';
import type { TokenClaims } from '../auth/token-verifier';
import type { Loaders } from './loaders';

/** Built fresh for every request: its own identity map, its own caller, its own loaders. */
export interface Context {
  requestId: string;
  em: EntityManager;
  /** The verified token's claims; the caller's row is looked up only once the operation passed every check. */
  claims: TokenClaims | null;
  /** Set, with `loaders`, just before execution. */
  actor: Actor | null;
  loaders: Loaders;
}
