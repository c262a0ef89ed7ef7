/** Who is calling: a known user, possibly with roles from the token. Anonymous callers have no actor. */
export interface Actor {
  userId: string;
  roles: readonly string[];
}

export const SERVICE_ROLE = 'service';

/** Staff administer Tessera: they see every user's email. */
export const STAFF_ROLE = 'admin';

export function isService(actor: Actor): boolean {
  return actor.roles.includes(SERVICE_ROLE);
}

export function isStaff(actor: Actor): boolean {
  return actor.roles.includes(STAFF_ROLE);
}

/** The caller as per-request code sees it: looked up once, on first use; null when anonymous. */
export type ActorLookup = () => Promise<Actor | null>;
