import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Registry, RegistryContentType } from 'prom-client';
import {
  histogramInternals,
  seriesInternals,
  type HistogramInternals,
  type HistogramSeries,
  type ReadableMetric,
  type SeriesInternals,
} from './prom-client-internals.js';
import { KeptLabelText, type LabelTextByMetric } from './metrics-label-text.js';

/**
 * The Prometheus text exposition (format 0.0.4) of a prom-client registry, byte for byte what
 * `registry.metrics()` gives, built for many tenants: prom-client formats a sample through arrays,
 * `Object.entries`, three regex replaces per label value and a WeakMap lookup, and builds the whole
 * text in one go; at 1,000 tenants (megabytes) that is most of a scrape's CPU, in one block of the
 * loop. Here a sample is a few concatenations, a label value is escaped only when it holds a
 * character to escape, a histogram series' labels are formatted once for its dozen lines (and, for
 * the bodies of successive scrapes, a counter's or histogram's once while the series lives:
 * `KeptLabelText`), lines are joined into flat pieces as they come, and the loop gets a turn between
 * two metrics and whenever a slice has run for `sliceMs`.
 *
 * Values are read the way `registry.metrics()` reads them (`getForPromString()` where a metric has
 * it — histograms: their samples come with the series' labels apart — else `get()`), so collect
 * callbacks run as before. Not handled, as Metrics uses neither: the registry's default labels, and
 * the OpenMetrics content type (left to prom-client).
 */

/** How a build writes label values (escaped, and scrubbed when the build masks secrets). */
interface LabelValues {
  labelValue(value: unknown): string;
}

/** What every series of one histogram shares in its lines: the name, and each bucket's `le` pair. */
interface HistogramFormat {
  name: string;
  upperBounds: readonly number[];
  les: readonly string[];
  infinity: string;
}

function histogramFormat(name: string, upperBounds: readonly number[], values: LabelValues): HistogramFormat {
  return { name, upperBounds, les: upperBounds.map((bound) => `le="${values.labelValue(bound)}"`), infinity: `le="${values.labelValue('+Inf')}"` };
}

/** Pushes one series' lines as prom-client writes them (cumulative buckets, +Inf, sum, count); returns how many. */
function pushHistogramSeries(lines: string[], f: HistogramFormat, series: HistogramSeries, shared: string): number {
  const more = shared === '' ? '' : `,${shared}`;
  let cumulative = 0;
  for (let b = 0; b < f.upperBounds.length; b++) {
    cumulative += series.bucketValues[f.upperBounds[b]!]!;
    lines.push(`${f.name}_bucket{${f.les[b]}${more}} ${sampleValue(cumulative)}`);
  }
  const braced = shared === '' ? '' : `{${shared}}`;
  lines.push(
    `${f.name}_bucket{${f.infinity}${more}} ${sampleValue(series.count)}`,
    `${f.name}_sum${braced} ${sampleValue(series.sum)}`,
    `${f.name}_count${braced} ${sampleValue(series.count)}`,
  );
  return f.upperBounds.length + 3;
}

export interface ExpositionOptions {
  /** Longest synchronous slice before the loop gets a turn (ms). */
  sliceMs?: number;
  /**
   * Masks secrets in what the text quotes: string label values (each distinct one once per build)
   * and HELP texts. Metric and label names are the code's, sample values numbers: left as they are,
   * where masking the whole text could cut a secret like "1000" out of a number or a name.
   */
  scrub?: (text: string) => string;
  /** Which secrets `scrub` masks, when they can change: label text kept from earlier builds is used only within one generation. */
  scrubGeneration?: number;
}

const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
/** How long one synchronous slice of the build may run before the loop gets a turn. */
const DEFAULT_SLICE_MS = 3;
/** Samples formatted between two looks at the clock (a sample costs well under a microsecond). */
const SAMPLES_PER_CLOCK_CHECK = 64;
/** Lines joined into one flat piece at a time. */
const LINES_PER_PIECE = 512;

const NEEDS_ESCAPE = /[\\\n"]/;
const { hasOwnProperty } = Object.prototype;

/** A label value as prom-client escapes it: backslash, newline, then double quote; a non-string as `${value}`. */
function escapeLabelValue(value: unknown): string {
  if (typeof value !== 'string') return `${value as string}`;
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/** HELP text and metric names: backslash and newline only. */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A sample value as prom-client writes it (NaN is `Nan`, and anything else not finite and not negative `+Inf`). */
function sampleValue(value: number): string {
  if (Number.isNaN(value)) return 'Nan';
  if (!Number.isFinite(value)) return value < 0 ? '-Inf' : '+Inf';
  return `${value}`;
}

export async function expositionText(registry: Registry<RegistryContentType>, opts: ExpositionOptions = {}): Promise<string> {
  return (await expositionPieces(registry, opts)).join('');
}

/** The exposition as flat pieces of a few hundred lines each, whose concatenation is the text. */
export async function expositionPieces(registry: Registry<RegistryContentType>, opts: ExpositionOptions = {}): Promise<string[]> {
  const pieces: string[] = [];
  await new ExpositionWriter({ write: (piece) => pieces.push(piece) }, opts).write(registry);
  return pieces;
}

/**
 * The exposition as UTF-8 bodies (what a scrape sends), each piece encoded into memory outside the
 * JS heap as soon as it is built. At 1,000 tenants the text is megabytes; held as strings until
 * the build ends, it lived through the young-generation collections of the build, was promoted,
 * and brought a full collection after nearly every scrape. The memory a build writes into is kept
 * from one scrape to the next, and the body handed out is a copy made when the build has ended:
 * a buffer of megabytes made for every build lived through the same collections and, once in the
 * old generation, still brought a full collection after most scrapes. A build that starts while
 * another is under way writes into memory of its own.
 */
export class ExpositionBodies {
  /** What the last build wrote into (its size: the largest body yet). */
  private scratch: Buffer<ArrayBuffer> | undefined;
  private building = false;
  private readonly kept = new KeptLabelText();

  constructor(private readonly registry: Registry<RegistryContentType>) {}

  async build(opts: ExpositionOptions = {}): Promise<Buffer<ArrayBuffer>> {
    const shared = !this.building;
    const body = new Utf8Body(shared ? this.scratch : undefined, this.scratch?.length ?? 0);
    if (shared) this.building = true;
    try {
      await new ExpositionWriter(body, opts, this.kept.under(opts.scrub, opts.scrubGeneration)).write(this.registry);
      return Buffer.from(body.bytes());
    } finally {
      if (shared) {
        this.scratch = body.memory();
        this.building = false;
      }
    }
  }
}

/** Bytes appended into one buffer outside the JS heap, grown by doubling. */
class Utf8Body {
  private buffer: Buffer<ArrayBuffer>;
  private length = 0;

  /** `memory`: where to write (a new buffer of at least `sizeHint` bytes when absent). */
  constructor(memory: Buffer<ArrayBuffer> | undefined, sizeHint: number) {
    this.buffer = memory ?? (Buffer.allocUnsafeSlow(Math.max(sizeHint, 64 * 1024)) as Buffer<ArrayBuffer>);
  }

  write(text: string): void {
    const needed = this.length + Buffer.byteLength(text);
    if (needed > this.buffer.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(needed, this.buffer.length * 2)) as Buffer<ArrayBuffer>;
      this.buffer.copy(grown, 0, 0, this.length);
      this.buffer = grown;
    }
    this.length += this.buffer.write(text, this.length);
  }

  /** The bytes written so far (a view of the memory, not a copy). */
  bytes(): Buffer<ArrayBuffer> {
    return this.buffer.subarray(0, this.length);
  }

  /** The memory written into (grown, or the one given). */
  memory(): Buffer<ArrayBuffer> {
    return this.buffer;
  }
}

/** Where a build hands its pieces, in order. */
interface PieceSink {
  write(piece: string): void;
}

/**
 * One build of the exposition, handed to `sink` in flat pieces of a few hundred lines. Its steps
 * are methods, not closures made for each build: a closure made per build is a function V8
 * optimizes again at every scrape (and whose code the builder's own optimized code embeds, so that
 * is thrown away when the closure dies), which cost about as much CPU as the build itself.
 */
class ExpositionWriter implements LabelValues {
  private readonly sliceMs: number;
  private readonly scrub: ((text: string) => string) | undefined;
  /** Each distinct string label value as written (scrubbed, escaped), when the build scrubs. */
  private readonly written = new Map<string, string>();
  // Lines are joined into flat pieces every few hundred: a rope of tens of thousands of small strings
  // would live through the whole build, and the young-generation GC would copy it again and again.
  private lines: string[] = [];
  private sliceStart = performance.now();
  private sinceClockCheck = 0;
  private first = true;

  constructor(
    private readonly sink: PieceSink,
    opts: ExpositionOptions,
    /** Label text kept between builds (none: formatted for this build only). */
    private readonly kept?: LabelTextByMetric,
  ) {
    this.sliceMs = opts.sliceMs ?? DEFAULT_SLICE_MS;
    this.scrub = opts.scrub;
  }

  async write(registry: Registry<RegistryContentType>): Promise<void> {
    if (registry.contentType !== PROMETHEUS_CONTENT_TYPE) return this.sink.write(await registry.metrics());
    this.sliceStart = performance.now();
    for (const metric of registry.getMetricsAsArray() as unknown as ReadableMetric[]) {
      const histogram = histogramInternals(metric);
      if (histogram !== undefined) await this.writeHistogram(histogram);
      else {
        const series = seriesInternals(metric);
        if (series !== undefined) await this.writeSeries(series);
        else await this.writeSamples(metric);
      }
      // A turn between two metrics too, however small they are: timers and I/O that came meanwhile run between them.
      await this.turn();
    }
    this.flush();
    // No metric at all: prom-client's text is an empty line.
    if (this.first) this.sink.write('\n');
  }

  /** A label value as prom-client escapes it, after `scrub` for strings (each distinct one scrubbed once per build). */
  labelValue(value: unknown): string {
    const scrub = this.scrub;
    if (scrub === undefined || typeof value !== 'string') return escapeLabelValue(value);
    let out = this.written.get(value);
    if (out === undefined) this.written.set(value, (out = escapeLabelValue(scrub(value))));
    return out;
  }

  /**
   * Read from the histogram's own counts: prom-client's getForPromString() makes a dozen objects
   * per series, all alive until the metric is written, and at 1,000 tenants they were a large part
   * of what every scrape left in the old generation.
   */
  private async writeHistogram(histogram: HistogramInternals): Promise<void> {
    if (histogram.collect) await histogram.collect();
    const name = escapeHelp(histogram.name);
    this.head(name, histogram.help, 'histogram');
    const format = histogramFormat(name, histogram.upperBounds, this);
    const hashMap = histogram.hashMap;
    const kept = this.kept?.of(histogram);
    let written = 0;
    for (const hash in hashMap) {
      if (!hasOwnProperty.call(hashMap, hash)) continue;
      const series = hashMap[hash]!;
      let pairs = kept?.get(hash, series.labels);
      if (pairs === undefined) {
        pairs = this.labelPairs(series.labels, undefined);
        kept?.set(hash, series.labels, pairs);
      }
      written++;
      if (this.turnDue(pushHistogramSeries(this.lines, format, series, pairs))) await this.turn();
    }
    kept?.sweep(hashMap, written);
  }

  private async writeSeries(series: SeriesInternals): Promise<void> {
    if (series.collect) await series.collect();
    const name = escapeHelp(series.name);
    this.head(name, series.help, series.type);
    const hashMap = series.hashMap;
    // A gauge's `set` replaces its series' labels object, so a gauge's text would seldom be found again.
    const kept = series.type === 'gauge' ? undefined : this.kept?.of(series);
    let written = 0;
    for (const hash in hashMap) {
      if (!hasOwnProperty.call(hashMap, hash)) continue;
      const { labels, value } = hashMap[hash]!;
      // The line up to its value: `name{a="x"} `.
      let head = labels === undefined ? undefined : kept?.get(hash, labels);
      if (head === undefined) {
        const pairs = labels === undefined ? '' : this.labelPairs(labels, undefined);
        head = pairs === '' ? `${name} ` : `${name}{${pairs}} `;
        if (labels !== undefined) kept?.set(hash, labels, head);
      }
      written++;
      this.lines.push(head + sampleValue(value));
      if (this.turnDue(1)) await this.turn();
    }
    kept?.sweep(hashMap, written);
  }

  /** Any other metric (summaries, or a shape not read in place), from the samples prom-client hands out. */
  private async writeSamples(metric: ReadableMetric): Promise<void> {
    const data = typeof metric.getForPromString === 'function' ? await metric.getForPromString() : await metric.get();
    const name = escapeHelp(data.name);
    this.head(name, data.help, data.type);
    let sharedSeen: Record<string, unknown> | undefined;
    let sharedText = '';
    for (const sample of data.values ?? []) {
      const shared = sample.sharedLabels;
      if (shared !== sharedSeen) {
        // A histogram's samples of one series come one after the other with the same labels object.
        sharedSeen = shared;
        sharedText = shared === undefined ? '' : this.labelPairs(shared, undefined);
      }
      const own = sample.labels === undefined ? '' : this.labelPairs(sample.labels, shared);
      const pairs = own === '' ? sharedText : sharedText === '' ? own : `${own},${sharedText}`;
      this.lines.push(`${sample.metricName ?? name}${pairs === '' ? '' : `{${pairs}}`} ${sampleValue(sample.value)}`);
      if (this.turnDue(1)) await this.turn();
    }
  }

  /** `a="x",b="y"`, leaving out the labels in `exclude` (a histogram sample's own labels give way to its series'). */
  private labelPairs(labels: Record<string, unknown>, exclude: Record<string, unknown> | undefined): string {
    let out = '';
    for (const name in labels) {
      if (!hasOwnProperty.call(labels, name) || (exclude !== undefined && hasOwnProperty.call(exclude, name))) continue;
      out += `${out === '' ? '' : ','}${name}="${this.labelValue(labels[name])}"`;
    }
    return out;
  }

  private head(name: string, help: string, type: string): void {
    // Metrics are separated by an empty line.
    if (!this.first) this.lines.push('');
    this.first = false;
    const scrub = this.scrub;
    this.lines.push(`# HELP ${name} ${escapeHelp(scrub === undefined ? help : scrub(help))}`, `# TYPE ${name} ${type}`);
  }

  private flush(): void {
    const lines = this.lines;
    if (lines.length === 0) return;
    // The empty last line gives the piece its final newline: one flat string, where appending
    // it made a cons string that writing the body had to flatten into a copy.
    lines.push('');
    this.sink.write(lines.join('\n'));
    this.lines = [];
  }

  /** After `count` more lines: flushes a full piece; true when the slice has run long enough for a turn. */
  private turnDue(count: number): boolean {
    if (this.lines.length >= LINES_PER_PIECE) this.flush();
    this.sinceClockCheck += count;
    if (this.sinceClockCheck < SAMPLES_PER_CLOCK_CHECK) return false;
    this.sinceClockCheck = 0;
    return performance.now() - this.sliceStart > this.sliceMs;
  }

  private async turn(): Promise<void> {
    this.flush();
    await nextTurn();
    this.sliceStart = performance.now();
  }
}
