import { Counter, Gauge, Histogram } from 'prom-client';

/**
 * What the exposition reads of prom-client's metrics: their public `get()` shapes, and the fields
 * a histogram, counter or gauge keeps (stable through prom-client 15), read in place without the
 * copies `get()` makes.
 */

/** One sample as prom-client metrics hand it out (`metricName` for histogram buckets, sums, counts). */
export interface Sample {
  value: number;
  labels?: Record<string, unknown>;
  sharedLabels?: Record<string, unknown>;
  metricName?: string;
}
export interface MetricData {
  name: string;
  help: string;
  type: string;
  values?: Sample[];
}
export interface ReadableMetric {
  get(): Promise<MetricData> | MetricData;
  getForPromString?(): Promise<MetricData> | MetricData;
}

/** What a prom-client `Histogram` keeps (its own fields, stable through prom-client 15), read without copying. */
export interface HistogramInternals {
  name: string;
  help: string;
  collect?: () => unknown;
  upperBounds: readonly number[];
  enableExemplars: boolean;
  hashMap: Record<string, HistogramSeries>;
}
export interface HistogramSeries {
  labels: Record<string, unknown>;
  bucketValues: Record<number, number>;
  sum: number;
  count: number;
}

/** A histogram whose counts can be written directly; anything else (exemplars, another shape) goes through getForPromString(). */
export function histogramInternals(metric: unknown): HistogramInternals | undefined {
  if (!(metric instanceof Histogram)) return undefined;
  const h = metric as unknown as Partial<HistogramInternals>;
  if (h.enableExemplars !== false || !Array.isArray(h.upperBounds) || typeof h.hashMap !== 'object' || h.hashMap === null) return undefined;
  return h as HistogramInternals;
}

/** What a prom-client `Counter` or `Gauge` keeps: one `{ value, labels }` per series, by the hash of its labels. */
export interface SeriesInternals {
  name: string;
  help: string;
  type: string;
  collect?: () => unknown;
  hashMap: Record<string, Sample>;
}

/**
 * A counter or gauge whose series can be read in place. Their get() hands out
 * `Object.values(hashMap)`, and on an object of thousands of keys (a dictionary, which V8 sorts by
 * insertion on every enumeration) that costs about 0.4 µs a series, a fifth of a scrape at 1,000
 * tenants; a for-in over the same keys gives the same order at about a third of that.
 */
export function seriesInternals(metric: unknown): SeriesInternals | undefined {
  if (!(metric instanceof Counter) && !(metric instanceof Gauge)) return undefined;
  const m = metric as unknown as Partial<SeriesInternals>;
  if (typeof m.hashMap !== 'object' || m.hashMap === null || typeof m.name !== 'string' || typeof m.help !== 'string' || typeof m.type !== 'string')
    return undefined;
  return m as SeriesInternals;
}
