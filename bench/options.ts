import path from 'node:path';

export type Mode = 'full' | 'quick';

export interface Scale {
  users: number;
  templates: number;
  experiments: number;
}

export const SCALES: Record<Mode, Scale> = {
  full: { users: 10_000, templates: 100_000, experiments: 1_000_000 },
  quick: { users: 100, templates: 1_000, experiments: 10_000 },
};

export interface BenchOptions {
  mode: Mode;
  scale: Scale;
  /** Keep a generated data set that matches this mode and generator version instead of regenerating it. */
  reuse: boolean;
  /** Seconds each load phase runs (GraphQL and bare `pg` alike). */
  durationSeconds: number;
  connections: number;
  /** Phases to run; every default phase unless `--only` says otherwise. */
  phases: Set<Phase>;
  /** Only the operations whose name contains one of these (all when empty). */
  operations: string[];
  /** Skip the bare `pg` runs (e.g. to profile the server alone). */
  bare: boolean;
  /** Seconds of load on one read operation at the end, for the server's memory over a long run (0: no soak). */
  soakSeconds: number;
  /** Where the bench cluster keeps its data: a directory of its own, never the server's `.data/pg`. */
  dataDir: string;
  resultsDir: string;
}

export const PHASES = ['migration', 'generate', 'explain', 'http', 'scale', 'limits', 'scaling'] as const;
export type Phase = (typeof PHASES)[number];
/** What `npm run bench` runs without `--only`: scaling generates ten times the data and runs on its own. */
export const DEFAULT_PHASES: readonly Phase[] = PHASES.filter((phase) => phase !== 'scaling');

const USAGE = `npm run bench -- [--quick] [--reuse] [--duration <seconds>] [--only <${PHASES.join('|')}>[,...]] [--soak <seconds>]

  --quick      1/100th of the data set (${SCALES.quick.users} users, ${SCALES.quick.templates} templates, ${SCALES.quick.experiments} experiments), short load phases: for CI
  --reuse      keep the generated data set when it matches the mode (default: generate afresh)
  --duration   seconds per load phase (default: 10 full, 1 quick)
  --only       run only these phases ("generate" is implied by explain, http, scale, limits and --soak); scale: A to D
               (A only with --quick; the operations --operations names when given) against \`node dist/src/main.js\` with 1 and 2 workers, reaching
               PostgreSQL directly and through PgBouncer; limits: A against \`node dist/src/main.js\` with its rate
               limits counted per process, then shared in PostgreSQL, and the limiter on its own;
               scaling (never run by default): a data set of its own with
               ten times the experiments (10,000,000; 100,000 with --quick), as today's table and partitioned by
               month, with the measurements of docs/SCALING.md (--reuse keeps it too)
  --operations only the operations whose name, letter included ("A: ..."), contains one of these (comma-separated)
  --no-bare    skip the bare pg runs (to profile the server alone: node --cpu-prof dist/bench/run.js ...)
  --soak       after the other phases, load the first read operation (A unless --operations says otherwise) for this
               many seconds and report the server's RSS at start and end, and its growth (e.g. --soak 300)`;

export function parseOptions(argv: string[]): BenchOptions {
  let mode: Mode = 'full';
  let reuse = false;
  let duration: number | undefined;
  let only: Phase[] | undefined;
  let operations: string[] = [];
  let bare = true;
  let soakSeconds = 0;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--quick') mode = 'quick';
    else if (arg === '--full') mode = 'full';
    else if (arg === '--reuse') reuse = true;
    else if (arg === '--duration') duration = positive(argv[++i], arg);
    else if (arg === '--only') only = (argv[++i] ?? '').split(',').map((phase) => phaseOf(phase));
    else if (arg === '--operations') operations = (argv[++i] ?? '').split(',').filter(Boolean);
    else if (arg === '--no-bare') bare = false;
    else if (arg === '--soak') soakSeconds = positive(argv[++i], arg);
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else throw new Error(`unknown argument ${arg}\n${USAGE}`);
  }
  return {
    mode,
    scale: SCALES[mode],
    reuse,
    durationSeconds: duration ?? (mode === 'full' ? 10 : 1),
    connections: 8,
    phases: new Set(only ?? DEFAULT_PHASES),
    operations,
    bare,
    soakSeconds,
    dataDir: path.resolve(process.env.BENCH_DATA_DIR ?? path.join('.data', 'bench')),
    resultsDir: path.resolve(process.env.BENCH_RESULTS_DIR ?? path.join('bench', 'results')),
  };
}

function positive(value: string | undefined, name: string): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) throw new Error(`${name} needs a positive number`);
  return number;
}

function phaseOf(value: string): Phase {
  if ((PHASES as readonly string[]).includes(value)) return value as Phase;
  throw new Error(`unknown phase "${value}": one of ${PHASES.join(', ')}`);
}
