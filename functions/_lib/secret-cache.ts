/**
 * Secrets re-read on a short cache instead of once per cold start, so that a rotation takes effect within minutes
 * everywhere without a redeploy (docs/operations.md#rotating-secrets). Used for the organization-token secret and the
 * direct-APNs key, and meant for any other secret a function reads at run time (the admin-token secret of
 * organization mode included): `cachedSecret(() => readSecret(arn))`.
 */

/** How long a secret value is used before it is read again. */
export const SECRET_CACHE_TTL_MS = 5 * 60_000;
/** After a failed re-read, how long the last good value is used before the next attempt. */
export const SECRET_RETRY_AFTER_MS = 30_000;

export interface SecretCacheOptions {
  ttlMs?: number;
  retryAfterMs?: number;
  now?: () => number;
  /** Told when a re-read failed and the last good value is kept (never given the value). */
  onStaleRead?: (error: unknown) => void;
}

/** A secret source: resolves the current value, reading it at most once per TTL. */
export type SecretSource = () => Promise<string>;

/**
 * Wraps a reader: the first call reads (and fails if the read fails: a function must not start without its secret);
 * later calls within the TTL answer from memory; the first call after it reads again, while concurrent callers share
 * that one read. A re-read that fails keeps the last good value (Secrets Manager being briefly unavailable must not
 * refuse every request) and is tried again after `retryAfterMs`.
 */
export function cachedSecret(read: () => Promise<string>, options: SecretCacheOptions = {}): SecretSource {
  const ttlMs = options.ttlMs ?? SECRET_CACHE_TTL_MS;
  const retryAfterMs = options.retryAfterMs ?? SECRET_RETRY_AFTER_MS;
  const now = options.now ?? Date.now;
  let value: string | undefined;
  let freshUntil = 0;
  let reading: Promise<string> | undefined;

  const refresh = (): Promise<string> => {
    reading ??= read()
      .then(
        (fresh) => {
          value = fresh;
          freshUntil = now() + ttlMs;
          return fresh;
        },
        (error: unknown) => {
          if (value === undefined) throw error;
          options.onStaleRead?.(error);
          freshUntil = now() + retryAfterMs;
          return value;
        },
      )
      .finally(() => {
        reading = undefined;
      });
    return reading;
  };

  return async () => (value !== undefined && now() < freshUntil ? value : refresh());
}
