import { describe, expect, it } from 'vitest';
import { KeptLabelText, SeriesText } from '../../src/metrics-label-text.js';

describe('SeriesText: a metric label text kept between builds', () => {
  it('answers for a series only while it has the labels object the text was made from', () => {
    const kept = new SeriesText();
    const labels = { tenant: 'a' };
    kept.set('tenant:a,', labels, 'c_total{tenant="a"} ');
    expect(kept.get('tenant:a,', labels)).toBe('c_total{tenant="a"} ');
    // The series made again (another object, equal or not): formatted again.
    expect(kept.get('tenant:a,', { tenant: 'a' })).toBeUndefined();
    expect(kept.get('tenant:b,', labels)).toBeUndefined();
  });

  it('forgets the series that are gone once more are kept than were written', () => {
    const kept = new SeriesText();
    const a = { tenant: 'a' };
    const b = { tenant: 'b' };
    kept.set('tenant:a,', a, 'A');
    kept.set('tenant:b,', b, 'B');
    kept.sweep({ 'tenant:a,': {}, 'tenant:b,': {} }, 2);
    expect(kept.get('tenant:b,', b)).toBe('B');
    // Tenant b was forgotten by prom-client (a reload removed it).
    kept.sweep({ 'tenant:a,': {} }, 1);
    expect(kept.get('tenant:a,', a)).toBe('A');
    expect(kept.get('tenant:b,', b)).toBeUndefined();
  });
});

describe('KeptLabelText: one masking at a time', () => {
  it('keeps the text while the scrub and its generation stay, and starts afresh when either changes', () => {
    const kept = new KeptLabelText();
    const scrub = (text: string) => text;
    const metric = {};
    const first = kept.under(scrub, 0);
    first.of(metric).set('h', metric, 'text');
    expect(kept.under(scrub, 0)).toBe(first);
    expect(kept.under(scrub, 0).of(metric).get('h', metric)).toBe('text');
    expect(kept.under(scrub, 1).of(metric).get('h', metric)).toBeUndefined();
    expect(
      kept
        .under((text: string) => text, 1)
        .of(metric)
        .get('h', metric),
    ).toBeUndefined();
    // A build that got the first masking keeps writing into its own: nothing of it leaks into the latest.
    first.of(metric).set('h2', metric, 'unmasked');
    expect(kept.under(scrub, 2).of(metric).get('h2', metric)).toBeUndefined();
  });
});
