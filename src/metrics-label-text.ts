/**
 * Label text of /metrics kept from one build to the next, so that a series' labels are formatted
 * once rather than at every scrape: at 1,000 tenants that formatting made most of the short
 * strings a scrape left to the garbage collector. A text is kept by prom-client's hash of the
 * series' labels, and used while the series has the labels object it was made from: a counter's
 * or histogram's for as long as the series lives (a gauge's `set` replaces it, so gauges keep
 * nothing). Labels objects handed to prom-client are never changed afterwards (its hash of them
 * would be stale too).
 *
 * The text depends on how label values are masked, so it is kept for one masking only: another
 * scrub function, or another generation of it (a reload learned new secrets), starts afresh.
 */
export class KeptLabelText {
  private latest: LabelTextByMetric | undefined;

  /** The text kept under this masking: a new, empty one when the masking changed. A build holds on to the one it got. */
  under(scrub: unknown, generation: number | undefined): LabelTextByMetric {
    const latest = this.latest;
    if (latest !== undefined && latest.scrub === scrub && latest.generation === generation) return latest;
    return (this.latest = new LabelTextByMetric(scrub, generation));
  }
}

/** The label text of each metric's series under one masking. */
export class LabelTextByMetric {
  private readonly byMetric = new Map<object, SeriesText>();

  constructor(
    readonly scrub: unknown,
    readonly generation: number | undefined,
  ) {}

  of(metric: object): SeriesText {
    let kept = this.byMetric.get(metric);
    if (kept === undefined) this.byMetric.set(metric, (kept = new SeriesText()));
    return kept;
  }
}

/** The kept text of one metric's series. */
export class SeriesText {
  private readonly byHash = new Map<string, { labels: object; text: string }>();

  /** The text kept for series `hash`, if it still has the labels object the text was made from. */
  get(hash: string, labels: object): string | undefined {
    const kept = this.byHash.get(hash);
    return kept !== undefined && kept.labels === labels ? kept.text : undefined;
  }

  set(hash: string, labels: object, text: string): void {
    this.byHash.set(hash, { labels, text });
  }

  /** After a build that wrote `written` series of `series`: forgets the series that are gone. */
  sweep(series: object, written: number): void {
    if (this.byHash.size <= written) return;
    for (const hash of this.byHash.keys()) if (!Object.prototype.hasOwnProperty.call(series, hash)) this.byHash.delete(hash);
  }
}
