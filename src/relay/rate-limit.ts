// Token buckets keyed by client IP or address: `burst` requests at once, refilled
// at `perSecond`. take() answers how long to wait when the bucket is empty, for
// Retry-After. Buckets that have refilled completely carry no information and
// are dropped when the map grows, so memory stays bounded under address spray.
// Leaves out: sharing limits across relay processes (a shared store would).
import type { RateLimit } from './config.ts';

const SWEEP_AT = 10_000;

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; updatedMs: number }>();

  constructor(private readonly limit: RateLimit) {}

  /** Like take() without spending: 0 when a token is available now, else the seconds until one is. */
  peek(key: string, nowMs: number): number {
    const { burst, perSecond } = this.limit;
    const bucket = this.buckets.get(key);
    if (!bucket) return 0;
    const tokens = Math.min(burst, bucket.tokens + (Math.max(0, nowMs - bucket.updatedMs) / 1000) * perSecond);
    if (tokens >= 1) return 0;
    return perSecond > 0 ? Math.ceil((1 - tokens) / perSecond) : 3600;
  }

  /** Spends one token for `key`; returns 0 when allowed, else the seconds until one is available. */
  take(key: string, nowMs: number): number {
    const { burst, perSecond } = this.limit;
    const bucket = this.buckets.get(key) ?? { tokens: burst, updatedMs: nowMs };
    bucket.tokens = Math.min(burst, bucket.tokens + (Math.max(0, nowMs - bucket.updatedMs) / 1000) * perSecond);
    bucket.updatedMs = nowMs;
    if (bucket.tokens < 1) {
      this.buckets.set(key, bucket);
      return perSecond > 0 ? Math.ceil((1 - bucket.tokens) / perSecond) : 3600;
    }
    bucket.tokens -= 1;
    this.buckets.set(key, bucket);
    if (this.buckets.size > SWEEP_AT) this.sweep(nowMs);
    return 0;
  }

  private sweep(nowMs: number): void {
    const { burst, perSecond } = this.limit;
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + ((nowMs - bucket.updatedMs) / 1000) * perSecond >= burst) this.buckets.delete(key);
    }
  }
}
