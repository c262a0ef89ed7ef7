import autocannon from 'autocannon';
import { headersOf, withCounter, type RequestSpec } from './request-spec';

/**
 * The load generator, in a process of its own so that it neither shares the server's event loop nor counts in its
 * memory. Receives one job over IPC, runs autocannon, answers with the figures and exits.
 */
export interface LoadJob {
  url: string;
  connections: number;
  durationSeconds: number;
  requests: RequestSpec[];
  /** Where the request counter (`__N__`) starts: unique names and changes across phases. */
  counterStart: number;
}

export interface LoadFigures {
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** 2xx responses that carried GraphQL errors. */
  graphqlErrors: number;
  sampleError?: string;
  /**
   * CPU milliseconds per request: the server's processes, PgBouncer's when the server reaches PostgreSQL through it,
   * PostgreSQL (all its processes), the load generator's.
   */
  cpuMsPerRequest?: { server?: number; pgbouncer?: number; postgres?: number; client?: number };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function run(job: LoadJob): Promise<LoadFigures> {
  let counter = job.counterStart;
  let graphqlErrors = 0;
  let sampleError: string | undefined;
  const latencies: number[] = [];
  const cpuAtStart = (process.cpuUsage().user + process.cpuUsage().system) / 1000;
  let finish!: (result: autocannon.Result) => void;
  let fail!: (error: unknown) => void;
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const instance = autocannon(
    {
      url: job.url,
      connections: job.connections,
      duration: job.durationSeconds,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      requests: [
        {
          method: 'POST',
          setupRequest: (request) => {
            const spec = job.requests[counter % job.requests.length];
            counter += 1;
            return {
              ...request,
              headers: { ...request.headers, ...headersOf(spec) },
              body: withCounter(spec.body, counter),
            };
          },
          onResponse: (status, body) => {
            if (status < 300 && body.includes('"errors":[')) {
              graphqlErrors += 1;
              sampleError ??= body.slice(0, 500);
            } else if (status >= 300) {
              sampleError ??= `${status}: ${body.slice(0, 500)}`;
            }
          },
        },
      ],
    },
    (error, result) => (error ? fail(error) : finish(result)),
  );
  instance.on('response', (_client: unknown, _status: number, _bytes: number, responseTime: number) => latencies.push(responseTime));
  const result = await done;
  latencies.sort((a, b) => a - b);
  const round = (value: number) => Math.round(value * 100) / 100;
  return {
    requests: latencies.length,
    seconds: result.duration,
    requestsPerSecond: round(latencies.length / result.duration),
    p50Ms: round(percentile(latencies, 50)),
    p99Ms: round(percentile(latencies, 99)),
    maxMs: round(latencies[latencies.length - 1] ?? 0),
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    graphqlErrors,
    sampleError,
    cpuMsPerRequest: {
      client: round(((process.cpuUsage().user + process.cpuUsage().system) / 1000 - cpuAtStart) / Math.max(1, latencies.length)),
    },
  };
}

if (require.main === module) {
  process.once('message', (job: LoadJob) => {
    run(job).then(
      (figures) => process.send!(figures, () => process.exit(0)),
      (error) => {
        process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
        process.exit(1);
      },
    );
  });
}
