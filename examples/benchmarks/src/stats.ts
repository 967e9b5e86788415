// Latency statistics for the benchmarks: percentiles by nearest rank over sorted samples.

export interface Summary {
  readonly n: number;
  readonly p50: number;
  readonly p99: number;
  readonly perSecond: number;
}

export const summarise = (samplesMs: readonly number[], wallMs: number): Summary => {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const rank = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
  return { n: sorted.length, p50: rank(50), p99: rank(99), perSecond: (sorted.length / wallMs) * 1000 };
};

/** Runs `task` `warmUp` times unmeasured, then `n` times one after another, timing each. */
export const measure = async (n: number, warmUp: number, task: (i: number) => Promise<unknown>): Promise<Summary> => {
  for (let i = 0; i < warmUp; i++) await task(i);
  const samples: number[] = [];
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await task(i);
    samples.push(performance.now() - t);
  }
  return summarise(samples, performance.now() - start);
};

export const ms = (value: number): string => `${value.toFixed(2)} ms`;
