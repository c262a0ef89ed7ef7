/** Who is calling: a known user, possibly with Tessera roles from the token. Anonymous callers have no actor. */
export interface Actor {
  userId: string;
  roles: readonly Role[];
}

/**
 * The roles Tessera gives meaning to, in its own names: the token's values are mapped onto them where the token is read
 * (`TokenVerifier`, with the configured claim and staff value), and any other value is dropped there.
 */
export enum Role {
  /** A service (e.g. dataset analysis) writing analysis metadata onto any experiment: the token's `service`. */
  SERVICE = 'service',
  /** Staff administer Tessera: they find and act on any template, every action audited; `STAFF_ROLE` in the token. */
  STAFF = 'staff',
}

/** The token's value for the service role; the staff role's is configured (`STAFF_ROLE`, default `admin`). */
export const SERVICE_ROLE_VALUE = 'service';

export function isService(actor: Actor): boolean {
  return actor.roles.includes(Role.SERVICE);
}

export function isStaff(actor: Actor): boolean {
  return actor.roles.includes(Role.STAFF);
}

/** The caller as per-request code sees it: looked up once, on first use; null when anonymous. */
export type ActorLookup = () => Promise<Actor | null>;
