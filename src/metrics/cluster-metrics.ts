import cluster from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

/**
 * With WORKERS=N, each worker counts in its own registry, and a scrape reaches whichever worker the port hands it to.
 * That worker asks the primary, which gathers every worker's registry (prom-client's AggregatorRegistry: counters and
 * histograms summed, and the pool gauges, so they describe the whole server) and answers; so any scrape sees the
 * whole server, whichever worker takes it.
 */

const REQUEST = 'tessera:metrics:request';
const ANSWER = 'tessera:metrics:answer';
/** Above prom-client's own 5 s wait for the workers, so its error arrives first when a worker does not answer. */
const ANSWER_TIMEOUT_MS = 6_000;

interface MetricsRequest {
  type: typeof REQUEST;
  id: number;
}

type MetricsAnswer = { type: typeof ANSWER; id: number } & ({ text: string } | { error: string });

/** In the primary: answers each worker's request with every worker's metrics, and the primary's own `registry`. */
export function answerWorkersWithClusterMetrics(registry: Registry): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, message: unknown) => {
    if (!isMessage<MetricsRequest>(message, REQUEST)) return;
    const answer = (result: { text: string } | { error: string }) => {
      if (worker.isConnected()) worker.send({ type: ANSWER, id: message.id, ...result } satisfies MetricsAnswer);
    };
    Promise.all([aggregator.clusterMetrics(), registry.metrics()]).then(
      ([workers, primary]) => answer({ text: workers + primary }),
      (error: unknown) => answer({ error: error instanceof Error ? error.message : String(error) }),
    );
  });
}

/**
 * In a worker: offers `registry` to the primary's gatherings, and returns how to ask the primary for the whole
 * server's metrics.
 */
export function shareWithPrimary(registry: Registry): () => Promise<string> {
  AggregatorRegistry.setRegistries([registry]);
  // prom-client answers the primary's gatherings from a listener it adds when an AggregatorRegistry is made.
  new AggregatorRegistry();
  const pending = new Map<number, { resolve: (text: string) => void; reject: (error: Error) => void }>();
  let lastId = 0;
  process.on('message', (message: unknown) => {
    if (!isMessage<MetricsAnswer>(message, ANSWER)) return;
    const waiting = pending.get(message.id);
    pending.delete(message.id);
    if ('text' in message) waiting?.resolve(message.text);
    else waiting?.reject(new Error(`the primary could not gather the workers' metrics: ${message.error}`));
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = ++lastId;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`the primary did not answer with the metrics within ${ANSWER_TIMEOUT_MS} ms`));
      }, ANSWER_TIMEOUT_MS);
      pending.set(id, {
        resolve: (text) => {
          clearTimeout(timer);
          resolve(text);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      process.send!({ type: REQUEST, id } satisfies MetricsRequest);
    });
}

function isMessage<T extends { type: string }>(message: unknown, type: T['type']): message is T {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type;
}
