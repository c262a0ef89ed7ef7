import { UnauthenticatedError } from '../errors/domain-error';

/** Who is calling: a known user, possibly with roles from the token; `null` when anonymous. */
export interface Actor {
  userId: string;
  roles: readonly string[];
}

export const SERVICE_ROLE = 'service';

export function requireActor(actor: Actor | null): Actor {
  if (!actor) throw new UnauthenticatedError();
  return actor;
}

export function isService(actor: Actor | null): boolean {
  return actor?.roles.includes(SERVICE_ROLE) ?? false;
}
