/**
 * A latency histogram with logarithmic buckets (each 2% wider than the last, from 10 µs): small
 * enough to cross IPC as sparse pairs, precise enough for p999, and mergeable across the load
 * processes. A percentile is read as its bucket's upper bound, so it errs high by at most 2%.
 */

const SMALLEST_MS = 0.01;
const GROWTH = 1.02;
const LOG_GROWTH = Math.log(GROWTH);
/** 0.01 ms × 1.02^1200 is far beyond any run's length. */
const BUCKETS = 1200;

/** Bucket index → count, for the buckets that have any. */
export type SparseCounts = [number, number][];

export class LatencyHistogram {
  private counts = new Float64Array(BUCKETS);
  count = 0;
  private sum = 0;
  max = 0;

  record(milliseconds: number): void {
    const value = milliseconds > 0 ? milliseconds : 0;
    const index =
      value <= SMALLEST_MS ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(value / SMALLEST_MS) / LOG_GROWTH));
    this.counts[index]! += 1;
    this.count += 1;
    this.sum += value;
    if (value > this.max) this.max = value;
  }

  reset(): void {
    this.counts = new Float64Array(BUCKETS);
    this.count = 0;
    this.sum = 0;
    this.max = 0;
  }

  toSparse(): { counts: SparseCounts; sum: number; max: number } {
    const counts: SparseCounts = [];
    this.counts.forEach((count, index) => {
      if (count > 0) counts.push([index, count]);
    });
    return { counts, sum: this.sum, max: this.max };
  }

  merge(sparse: { counts: SparseCounts; sum: number; max: number }): void {
    for (const [index, count] of sparse.counts) {
      this.counts[index]! += count;
      this.count += count;
    }
    this.sum += sparse.sum;
    if (sparse.max > this.max) this.max = sparse.max;
  }

  get mean(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  /** The latency at or below which a fraction `q` (0..1) of the samples fall, in ms. */
  percentile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let index = 0; index < BUCKETS; index += 1) {
      seen += this.counts[index]!;
      if (seen >= rank) return Math.min(this.max, SMALLEST_MS * GROWTH ** index);
    }
    return this.max;
  }
}
