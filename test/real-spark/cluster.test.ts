/**
 * The real Spark cluster and Kafka broker that `npm test` starts are there and are what
 * test/services.sh says (a missing service fails here, first, with the command to start it).
 */
import { describe, expect, it } from 'vitest';
import { sharedKafka, sharedSpark } from '../support/real-spark.js';

describe('real services', () => {
  it('the Spark master is ALIVE with one worker, REST submission server on, version 3.5', async () => {
    const master = await sharedSpark();
    const state = await master.state();
    expect(state.status).toBe('ALIVE');
    expect(state.aliveworkers).toBe(1);
    expect(state.url).toBe(`spark://${master.host}:${master.port}`);
    expect(master.env.SPARK_TEST_VERSION).toMatch(/^3\.5\.\d+$/);
    // The REST server answers a status request for an unknown id with success:false (HTTP 200).
    const status = await master.rest('GET', '/v1/submissions/status/driver-20000101000000-9999');
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ action: 'SubmissionStatusResponse', success: false, serverSparkVersion: master.env.SPARK_TEST_VERSION });
  });

  it('the Kafka broker runs and names its bootstrap address', async () => {
    const kafka = await sharedKafka();
    expect(kafka.KAFKA_TEST_BOOTSTRAP).toMatch(/^127\.0\.0\.1:\d+$/);
  });
});
