import { readOrCreateLocalSecret, signLocalToken } from '../src/auth/local-secret';
import { loadConfig, loadDotEnv } from '../src/config';

const USAGE = 'usage: npm run token -- <email> [--name "Ada Lovelace"] [--role service|<STAFF_ROLE, default admin>] [--expires 12h]';

/**
 * A development token signed with the local secret. It carries a display name only when `--name` gives one, so a
 * token for a seeded user never renames them.
 */
async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const email = args.find((arg) => !arg.startsWith('--') && args[args.indexOf(arg) - 1]?.startsWith('--') !== true);
  if (!email || !email.includes('@')) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(2);
  }
  const option = (name: string) => {
    const index = args.indexOf(`--${name}`);
    return index >= 0 ? args[index + 1] : undefined;
  };
  loadDotEnv();
  const config = loadConfig();
  if (config.auth.jwksUrl) {
    process.stderr.write('JWT_JWKS_URL is set: tokens come from that identity provider, not from here.\n');
    process.exit(2);
  }
  const secret = config.auth.jwtSecret ?? (await readOrCreateLocalSecret(config.dataDir));
  const role = option('role');
  const token = await signLocalToken({
    secret,
    email,
    name: option('name'),
    roles: role ? [role] : [],
    rolesClaim: config.auth.rolesClaim,
    issuer: config.auth.issuer,
    audience: config.auth.audience,
    expiresIn: option('expires'),
  });
  process.stdout.write(`${token}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
