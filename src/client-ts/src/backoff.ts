/** The reconnection backoff settings (see {@link retryDelay}). */
export interface BackoffOptions {
  /** The base of the backoff: the delay before the first retry, in ms. */
  readonly retryInterval: number;
  /** The longest delay between two attempts, in ms. */
  readonly maxRetryDelay: number;
  /** The share of the delay that is randomized, from 0 (none) to 1. */
  readonly retryJitter: number;
}

/**
 * The delay before retry `attempt` (1 for the first retry): exponential, `retryInterval · 2^(attempt−1)` capped at
 * `maxRetryDelay`, of which up to `retryJitter` is taken off at random, so that clients dropped together don't
 * come back together. With `random()` in [0, 1) the result is in `(cap · (1 − jitter), cap]`, and never above
 * `maxRetryDelay`.
 */
export function retryDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 52);
  const cap = Math.min(options.maxRetryDelay, options.retryInterval * 2 ** exponent);
  return Math.round(cap * (1 - options.retryJitter * random()));
}
