import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

export interface RateLimits {
  perIpPerMinute: number;
  perUserPerMinute: number;
}

export const RATE_LIMIT_SCOPES = ['ip', 'user'] as const;
export type RateLimitScope = (typeof RATE_LIMIT_SCOPES)[number];

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number; scope: RateLimitScope };

/**
 * Requests per minute per client IP and per authenticated user, counted in this process: behind a load balancer the
 * fleet allows the limit times the number of replicas (a shared store would make it global). 0 turns a limit off.
 */
export class RateLimiter {
  private readonly perIp?: RateLimiterMemory;
  private readonly perUser?: RateLimiterMemory;

  constructor(limits: RateLimits) {
    if (limits.perIpPerMinute > 0) this.perIp = new RateLimiterMemory({ points: limits.perIpPerMinute, duration: 60 });
    if (limits.perUserPerMinute > 0) this.perUser = new RateLimiterMemory({ points: limits.perUserPerMinute, duration: 60 });
  }

  async take(ip: string, userKey: string | undefined): Promise<RateDecision> {
    const ipDecision = await consume(this.perIp, ip, 'ip');
    if (!ipDecision.allowed || !userKey) return ipDecision;
    return consume(this.perUser, userKey, 'user');
  }
}

async function consume(limiter: RateLimiterMemory | undefined, key: string, scope: RateLimitScope): Promise<RateDecision> {
  if (!limiter) return { allowed: true };
  try {
    await limiter.consume(key);
    return { allowed: true };
  } catch (rejection) {
    if (rejection instanceof RateLimiterRes) {
      return { allowed: false, scope, retryAfterSeconds: Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)) };
    }
    throw rejection;
  }
}
