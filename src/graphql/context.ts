import type { EntityManager } from '@mikro-orm/postgresql';
import { AuditLog } from '../audit/audit-log';
import type { Actor } from '../auth/actor';
import type { Authenticator } from '../auth/authenticator';
import type { TokenClaims } from '../auth/token-verifier';
import type { Reader } from '../db/sql';
import type { RateLimiter } from '../http/rate-limit';
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
export function createServices(em: EntityManager, requestId: string, settings: ServiceSettings = DEFAULT_SERVICE_SETTINGS): Services {
  const audit = new AuditLog(requestId);
  return {
    templates: new TemplateService(em, audit, settings.requireEmailVerified),
    experiments: new ExperimentService(em, audit),
    teams: new TeamService(em, audit),
  };
}

/** What the configuration tells the services and read modules. */
export interface ServiceSettings {
  /** `REQUIRE_EMAIL_VERIFIED` (src/user/user-email.ts). */
  requireEmailVerified: boolean;
}

export const DEFAULT_SERVICE_SETTINGS: ServiceSettings = { requireEmailVerified: false };

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
  readonly settings: ServiceSettings;
  /** The server's rate limiter, for operations with a limit of their own (`takeOperation`). */
  readonly rateLimiter: RateLimiter;
}

export interface RequestDependencies {
  em: EntityManager;
  reader: Reader;
  authenticator: Authenticator;
  rateLimiter: RateLimiter;
  settings: ServiceSettings;
}

export function createContext(
  requestId: string,
  claims: TokenClaims | null,
  { em, reader, authenticator, rateLimiter, settings }: RequestDependencies,
): Context {
  let caller: Promise<Actor | null> | undefined;
  const actor = () => (caller ??= authenticator.identify(em, claims, requestId, () => reader.wrote?.()));
  return {
    requestId,
    claims,
    em,
    reader,
    actor,
    loaders: createLoaders(reader, actor, settings.requireEmailVerified),
    services: createServices(em, requestId, settings),
    settings,
    rateLimiter,
  };
}
