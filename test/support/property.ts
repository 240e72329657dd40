/**
 * How many cases a property draws: its full count in CI (CI set, or PROPERTY_RUNS=full, which
 * .ci/run sets), a quarter of it elsewhere, so that the local loop stays fast while CI, with its
 * fixed seeds, still runs every case. Local runs draw new seeds each time, so they keep exploring.
 */
const FULL = Boolean(process.env.CI) || process.env.PROPERTY_RUNS === 'full';

export function runs(full: number): number {
  return FULL ? full : Math.max(1, Math.ceil(full / 4));
}
