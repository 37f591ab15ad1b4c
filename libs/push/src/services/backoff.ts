const MAX_DELAY_MS = 300_000;

/**
 * Delay before the next attempt: exponential from 1 s, capped at 5 min, with full jitter so that
 * a provider coming back is not hit by every retry at once; a Retry-After from the provider is a
 * floor, itself never above the 5 minutes (providers' answers are capped as they are read; this
 * holds for any other source of a wait, too).
 */
export function retryDelayMs(
  attempt: number,
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(MAX_DELAY_MS, 1000 * 2 ** Math.max(0, attempt - 1));
  const jittered = Math.round(ceiling / 2 + (random() * ceiling) / 2);
  return Math.max(jittered, Math.min(MAX_DELAY_MS, retryAfterMs ?? 0));
}
