import type { EntityManager } from '@mikro-orm/postgresql';
import { AuditLog } from '../audit/audit-log';
import type { Actor } from '../auth/actor';
import type { Authenticator } from '../auth/authenticator';
import type { TokenClaims } from '../auth/token-verifier';
import type { Reader } from '../db/sql';
import { ExperimentService } from '../experiment/experiment.service';
import { TeamService } from '../team/team.service';
import { TemplateService } from '../template/template.service';
import { createLoaders, type Loaders } from './loaders';

export interface Services {
  templates: TemplateService;
  experiments: ExperimentService;
  teams: TeamService;
}

/**
 * The services of one request, writing through `em` and recording their audit events under `requestId`. The one way
 * services are made: the context makes them per request, and code outside a request (the seed, tests below the API)
 * names a request id of its own.
 */
export function createServices(em: EntityManager, requestId: string): Services {
  const audit = new AuditLog(requestId);
  return { templates: new TemplateService(em, audit), experiments: new ExperimentService(em, audit), teams: new TeamService(em, audit) };
}

/** One per request, built once and complete from the start: nothing is swapped in later. */
export interface Context {
  readonly requestId: string;
  /** The verified token's claims; null when anonymous. */
  readonly claims: TokenClaims | null;
  /** The request's own identity map, for writes. */
  readonly em: EntityManager;
  /** Reads: plain rows through bound, prepared statements. */
  readonly reader: Reader;
  /**
   * The caller, looked up on first use and remembered: a query refused by validation or limits never runs it, so it
   * costs no SQL. Null when anonymous.
   */
  actor(): Promise<Actor | null>;
  /** Fresh for the request, never shared: a revoked share takes effect on the very next request. */
  readonly loaders: Loaders;
  readonly services: Services;
}

export interface RequestDependencies {
  em: EntityManager;
  reader: Reader;
  authenticator: Authenticator;
}

export function createContext(requestId: string, claims: TokenClaims | null, { em, reader, authenticator }: RequestDependencies): Context {
  let caller: Promise<Actor | null> | undefined;
  const actor = () => (caller ??= authenticator.identify(em, claims, requestId, () => reader.wrote?.()));
  return {
    requestId,
    claims,
    em,
    reader,
    actor,
    loaders: createLoaders(reader, actor),
    services: createServices(em, requestId),
  };
}
