// Compiles dist/ only when a source is newer than the last build. Plain JavaScript: it runs before anything is compiled.
//
// `tsc` with nothing to do still takes seconds (it loads and checks the whole program to find out), which made
// `npm run token` take 6 s on a built tree; comparing modification times takes milliseconds.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, utimesSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BUILD_CONFIG = path.join(ROOT, 'tsconfig.build.json');
const BUILD_INFO = path.join(ROOT, 'dist/.tsbuildinfo');
/** Besides the included sources, what changes the compiled output: the compiler's settings and installed types. */
const SETTINGS = ['tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];
const SOURCE = /\.(ts|json)$/;

function modifiedAt(file) {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

/** The newest modification time of `entry`, a source file or a folder of them (dot folders such as caches skipped). */
function newestSource(entry) {
  const stats = statSync(entry, { throwIfNoEntry: false });
  if (!stats) return 0;
  if (!stats.isDirectory()) return SOURCE.test(entry) ? stats.mtimeMs : 0;
  let newest = 0;
  for (const child of readdirSync(entry, { withFileTypes: true })) {
    if (child.name.startsWith('.') || child.name === 'node_modules') continue;
    newest = Math.max(newest, newestSource(path.join(entry, child.name)));
  }
  return newest;
}

const builtAt = modifiedAt(BUILD_INFO);
const { include } = JSON.parse(readFileSync(BUILD_CONFIG, 'utf8'));
const stale = builtAt === undefined || [...include, ...SETTINGS].some((entry) => newestSource(path.join(ROOT, entry)) > builtAt);

if (stale) {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', BUILD_CONFIG], { cwd: ROOT, stdio: 'inherit' });
  } catch {
    // tsc printed the errors.
    process.exit(1);
  }
  // An incremental build that finds nothing to change leaves its build info as it was: mark this one as current.
  const now = new Date();
  utimesSync(BUILD_INFO, now, now);
}
