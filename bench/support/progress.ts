import { sleep } from '../../scripts/simulator/concurrency.js';

/**
 * Progress lines on stderr, so that stdout carries only the results table. Each line says how long the run has been
 * going, which makes a stalled step visible.
 */
const startedAt = performance.now();

export function progress(scope: string, message: string): void {
  const seconds = ((performance.now() - startedAt) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[bench ${seconds}s] ${scope}: ${message}\n`);
}

export { sleep };

/** Polls `check` every `intervalMs` until it returns true; false when `timeoutMs` passed first. */
export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 20): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await check()) return true;
    await sleep(intervalMs);
  }
  return check();
}
