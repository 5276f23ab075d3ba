import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/metrics.js';
import type { OrchestratorEvent } from '../../streams/events.js';

const polled = (tenant: string, at: number, masterStatus: string, aliveDrivers: number) =>
  ({ type: 'spark.polled', tenant, at, masterStatus, aliveDrivers, action: 'none' }) as OrchestratorEvent;

/** The samples of the Spark gauges a poll sets, for one tenant. */
async function sparkSeries(metrics: Metrics, tenant: string): Promise<string[]> {
  const text = await metrics.text();
  return text
    .split('\n')
    .filter(
      (l) =>
        /^logwise_spark_(master_reachable|master_status|alive_drivers|last_successful_poll_timestamp_seconds)\{/.test(l) && l.includes(`tenant="${tenant}"`),
    )
    .sort();
}

describe('Metrics: the gauges of spark.polled', () => {
  it('follow every poll, an unreachable master in between and a tenant forgotten and added again', async () => {
    const metrics = new Metrics({ processMetrics: false });
    metrics.record(polled('a', 1_000, 'ALIVE', 1));
    metrics.record(polled('b', 1_000, 'STANDBY', 0));
    metrics.record(polled('a', 16_000, 'ALIVE', 1));
    expect(await sparkSeries(metrics, 'a')).toEqual([
      'logwise_spark_alive_drivers{tenant="a"} 1',
      'logwise_spark_last_successful_poll_timestamp_seconds{tenant="a"} 16',
      'logwise_spark_master_reachable{tenant="a"} 1',
      'logwise_spark_master_status{tenant="a",status="ALIVE"} 1',
      'logwise_spark_master_status{tenant="a",status="COMPLETING_RECOVERY"} 0',
      'logwise_spark_master_status{tenant="a",status="RECOVERING"} 0',
      'logwise_spark_master_status{tenant="a",status="STANDBY"} 0',
    ]);

    metrics.record(polled('a', 31_000, 'RECOVERING', 2));
    expect(await sparkSeries(metrics, 'a')).toEqual(
      expect.arrayContaining([
        'logwise_spark_alive_drivers{tenant="a"} 2',
        'logwise_spark_master_status{tenant="a",status="ALIVE"} 0',
        'logwise_spark_master_status{tenant="a",status="RECOVERING"} 1',
      ]),
    );

    // Unreachable, then the same answer as before it: reachable again.
    metrics.record({ type: 'spark.master-unreachable', tenant: 'a', at: 46_000, error: 'connect ECONNREFUSED' } as OrchestratorEvent);
    expect(await sparkSeries(metrics, 'a')).toContain('logwise_spark_master_reachable{tenant="a"} 0');
    metrics.record(polled('a', 61_000, 'RECOVERING', 2));
    expect(await sparkSeries(metrics, 'a')).toContain('logwise_spark_master_reachable{tenant="a"} 1');

    // Forgotten (a reload removed it), then added again: the same answer as before sets every series again.
    await metrics.forgetTenant('a');
    expect(await sparkSeries(metrics, 'a')).toEqual([]);
    metrics.record(polled('a', 76_000, 'RECOVERING', 2));
    expect(await sparkSeries(metrics, 'a')).toHaveLength(7);
    expect(await sparkSeries(metrics, 'b')).toEqual(expect.arrayContaining(['logwise_spark_master_status{tenant="b",status="STANDBY"} 1']));
  });
});
