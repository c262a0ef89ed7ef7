import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SignJWT } from 'jose';
import type { AppConfig } from '../config';

export const LOCAL_ISSUER = 'tessera-local';

/** Neither a shared secret nor an identity provider is configured: the server signs its own tokens. */
export function usesLocalSecret(auth: AppConfig['auth']): boolean {
  return !auth.jwtSecret && !auth.jwksUrl;
}

/**
 * Development only: with no identity provider configured, the server signs its own tokens with a secret kept under
 * the data directory, so Sandbox works in one step and tokens survive restarts.
 */
export async function readOrCreateLocalSecret(dataDir: string): Promise<string> {
  const file = path.join(dataDir, 'jwt-secret');
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  await mkdir(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

export interface LocalTokenOptions {
  secret: string;
  email: string;
  name?: string;
  /** The token's role values, under `rolesClaim` (default `roles`). */
  roles?: string[];
  rolesClaim?: string;
  /** The `email_verified` claim; left out unless given, as the local development tokens always did. */
  emailVerified?: boolean;
  issuer?: string;
  audience?: string;
  expiresIn?: string;
}

export async function signLocalToken(options: LocalTokenOptions): Promise<string> {
  // No name unless given: a token without one leaves the user's display name as it is.
  const claims = {
    email: options.email,
    [options.rolesClaim ?? 'roles']: options.roles ?? [],
    ...(options.name ? { name: options.name } : {}),
    ...(options.emailVerified === undefined ? {} : { email_verified: options.emailVerified }),
  };
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(`local|${options.email.toLowerCase()}`)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '12h');
  if (options.issuer) jwt.setIssuer(options.issuer);
  if (options.audience) jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(options.secret));
}
