import { describe, expect, it } from 'vitest';
import type { TenantConfig } from '../src/config/schema.js';
import { sampleServicePrefix } from './delay-sample.js';
import { paceOffsets, planRound, servicePrefix, serviceKey, shouldAbandonRound } from './service-delays-plan.js';

const THREE = ['env', 'service_name', 'component_name'];
const svc = (env: string, serviceName: string, componentName: string) => ({ env, serviceName, componentName });

describe('service folder', () => {
  it('builds the default three-level layout under logsDir', () => {
    expect(servicePrefix('logs', THREE, svc('prod', 'orders', 'application'))).toBe('logs/env=prod/service_name=orders/component_name=application/');
  });

  it('escapes values as Spark writes them: = becomes %3D, space and + stay', () => {
    expect(servicePrefix('logs', THREE, svc('prod', 'order svc+v2=blue', 'app/worker'))).toBe(
      'logs/env=prod/service_name=order svc+v2%3Dblue/component_name=app%2Fworker/',
    );
    expect(servicePrefix('logs', THREE, svc('prod', '50%', 'a:b'))).toBe('logs/env=prod/service_name=50%25/component_name=a%3Ab/');
  });

  it('builds the single-level layout, ignoring env and component', () => {
    expect(servicePrefix('logs', ['service_name'], svc('', 'checkout', ''))).toBe('logs/service_name=checkout/');
  });

  it('trims slashes around logsDir, and an empty logsDir is the bucket root', () => {
    expect(servicePrefix('/data/logs/', ['service_name'], svc('', 's', ''))).toBe('data/logs/service_name=s/');
    expect(servicePrefix('/', ['service_name'], svc('', 's', ''))).toBe('service_name=s/');
  });

  it('is null for a key it cannot fill from a row, or an empty value', () => {
    expect(servicePrefix('logs', ['env', 'region', 'service_name'], svc('prod', 's', 'c'))).toBeNull();
    expect(servicePrefix('logs', THREE, svc('prod', 's', ''))).toBeNull();
  });

  it('is the folder the sample-service delay walks, for the same service', () => {
    const tenant = (partitionKeys: string[], logsDir = 'logs') =>
      ({
        partitionKeys,
        spark: { logsDir },
        delayMetrics: { app: { sampleEnv: 'prod', sampleServiceName: 'order svc+v2=blue', sampleComponentName: 'application' }, allServices: true },
      }) as unknown as TenantConfig;
    for (const t of [tenant(THREE), tenant(['service_name']), tenant(THREE, '/nested/logs/')]) {
      expect(servicePrefix(t.spark.logsDir, t.partitionKeys!, svc('prod', 'order svc+v2=blue', 'application'))).toBe(sampleServicePrefix(t));
    }
  });
});

describe('pacing', () => {
  it('spreads the starts evenly over 80 % of the interval', () => {
    expect(paceOffsets(4, 60_000)).toEqual([0, 12_000, 24_000, 36_000]);
    expect(paceOffsets(0, 60_000)).toEqual([]);
    expect(paceOffsets(1, 60_000)).toEqual([0]);
  });

  it('10,000 services at 60 s: never more than one start per 4.8 ms, the last before 48 s, in order', () => {
    const offsets = paceOffsets(10_000, 60_000);
    expect(offsets).toHaveLength(10_000);
    expect(offsets[0]).toBe(0);
    expect(offsets.at(-1)).toBeLessThan(48_000);
    expect(offsets.at(-1)).toBeGreaterThanOrEqual(47_990);
    const gaps = offsets.slice(1).map((o, i) => o - offsets[i]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(4);
    // No millisecond holds more than one start.
    expect(new Set(offsets).size).toBe(10_000);
  });

  it('clamps the fraction to [0, 1]', () => {
    expect(paceOffsets(2, 1000, 2)).toEqual([0, 500]);
    expect(paceOffsets(3, 1000, -1)).toEqual([0, 0, 0]);
  });
});

describe('round plan', () => {
  const layout = { logsDir: 'logs', partitionKeys: THREE };

  it('samples each distinct service once, in a stable order, paced, and sets the unbuildable ones aside', () => {
    const rows = [svc('prod', 'b', 'application'), svc('dev', 'a', 'application'), svc('prod', 'b', 'application'), svc('prod', 'c', '')];
    const plan = planRound(rows, layout, 10_000);
    expect(plan.jobs.map((j) => [j.service.env, j.service.serviceName, j.offsetMs])).toEqual([
      ['dev', 'a', 0],
      ['prod', 'b', 4000],
    ]);
    expect(plan.jobs[1]!.prefix).toBe('logs/env=prod/service_name=b/component_name=application/');
    expect(plan.jobs[1]!.key).toBe(serviceKey(svc('prod', 'b', 'application')));
    expect(plan.unbuildable.map((u) => u.service.serviceName)).toEqual(['c']);
    // The same rows in another order give the same plan.
    expect(planRound([...rows].reverse(), layout, 10_000)).toEqual(plan);
  });

  it('keeps only the partition columns of a row', () => {
    const row = { ...svc('prod', 'a', 'x'), id: 7, tenant: 'ABC', retentionDays: 3, lastCheckedAt: new Date(0) };
    expect(planRound([row], layout, 1000).jobs[0]!.service).toEqual(svc('prod', 'a', 'x'));
  });
});

describe('abandoning a round', () => {
  it('gives up after 32 failures in a row', () => {
    expect(shouldAbandonRound(31)).toBe(false);
    expect(shouldAbandonRound(32)).toBe(true);
    expect(shouldAbandonRound(3, 3)).toBe(true);
    expect(shouldAbandonRound(1, 0)).toBe(true);
    expect(shouldAbandonRound(0, 0)).toBe(false);
  });
});
