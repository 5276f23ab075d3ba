/**
 * Compares two conformance transcripts step by step, reporting every differing step (soft
 * assertions), each under its name, so one run lists all the differences at once.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { Transcript } from './scenario.js';
import { FIXTURE } from './targets.js';

export interface RecordedTranscript extends Transcript {
  recorded: { spark: string; at: string; worker: { cores: number; memoryMb: number } };
}

export function loadFixture(): RecordedTranscript {
  return JSON.parse(readFileSync(FIXTURE, 'utf8')) as RecordedTranscript;
}

/** `actual` must equal `expected` (`what`: the name of the master `expected` comes from). */
export function expectConformance(actual: Transcript, expected: Transcript, what: string): void {
  expect(
    actual.steps.map((s) => s.name),
    'the scenario ran different steps (re-record the fixture after changing the scenario)',
  ).toEqual(expected.steps.map((s) => s.name));
  actual.steps.forEach((step, i) => {
    expect.soft(step, `step ${i + 1} "${step.name}" differs from ${what}`).toEqual(expected.steps[i]);
  });
}
