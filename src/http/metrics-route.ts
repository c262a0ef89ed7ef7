import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics/metrics';

export const METRICS_PATH = '/metrics';

/**
 * `GET /metrics` in Prometheus' text format. With a token, only for `Authorization: Bearer <token>`, compared in
 * constant time (as digests, so its length does not show either).
 */
export function registerMetricsRoute(app: FastifyInstance, metrics: Metrics, token: string | undefined): void {
  const expected = token === undefined ? undefined : digest(token);
  app.get(METRICS_PATH, async (request, reply) => {
    if (expected && !timingSafeEqual(digest(bearerToken(request.headers.authorization)), expected)) {
      return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'a metrics token is required' });
    }
    const text = await metrics.exposition();
    return reply.type(metrics.contentType).send(text);
  });
}

function bearerToken(authorization: string | undefined): string {
  const match = /^Bearer +(\S+)\s*$/i.exec(authorization ?? '');
  return match ? match[1] : '';
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
