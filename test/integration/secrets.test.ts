import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestOrchestrator, type TestOrchestrator } from '../support/orchestrator.js';
import { s3TestEndpoint } from '../support/s3.js';

/** Distinctive values that must never appear in any output. */
const SECRETS = {
  envAccessKey: 'AKIALWENVKEY00000001',
  envSecret: 'lw-env-secret-7c1e9b2d',
  envToken: 'lw-env-session-token-55aa',
  sparkAccessKey: 'AKIALWSPARKKEY000002',
  sparkSecret: 'lw-spark-secret-0f3c8e',
  sparkToken: 'lw-spark-session-token-9d2',
  s3aKey: 'lw-s3a-access-key-4b7',
  s3aSecret: 'lw-s3a-secret-key-81f',
  dbPassword: 'lw-db-password-e2c4',
  authToken: 'lw-auth-token-a9f3d0c6',
};

describe('secrets', () => {
  let t: TestOrchestrator;
  const bodies: string[] = [];

  beforeAll(async () => {
    // The object store authenticates through the default provider chain with keys the RGW rejects.
    vi.stubEnv('AWS_ACCESS_KEY_ID', SECRETS.envAccessKey);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', SECRETS.envSecret);
    vi.stubEnv('AWS_SESSION_TOKEN', SECRETS.envToken);
    t = await startTestOrchestrator(
      `
      http.authToken = "${SECRETS.authToken}"
      tenants = [{
        name = "ABC"
        objectStore.aws { region = "us-east-1", bucket = "lw-secrets-nowhere", endpointOverride = "${s3TestEndpoint}" }
        delayMetrics.app { sampleEnv = prod, sampleServiceName = svc, sampleComponentName = application }
        spark {
          sparkMasterHost = "127.0.0.1", sparkMasterWebUiPort = 59998, sparkMasterRestPort = 59997, sparkJarPath = "file:///app.jar"
          awsAccessKeyId = "${SECRETS.sparkAccessKey}", awsSecretAccessKey = "${SECRETS.sparkSecret}", awsSessionToken = "${SECRETS.sparkToken}"
          s3aAccessKey = "${SECRETS.s3aKey}", s3aSecretKey = "${SECRETS.s3aSecret}"
        }
      }]
      loop { discoverySeconds = 3600, delaySampleSeconds = 3600, sparkPollSeconds = 0.2, backoff { minSeconds = 0.05, maxSeconds = 0.2 } }`,
      { quietTicks: true, config: (c) => ({ ...c, database: { ...c.database, password: SECRETS.dbPassword } }) },
    );
  });
  afterAll(async () => {
    await t?.stop();
    vi.unstubAllEnvs();
  });

  it('never writes a key, token or password to the logs, events or answers of a run full of failures', async () => {
    const events: string[] = [];
    t.orchestrator.supervisor.events$.subscribe((e) => events.push(JSON.stringify(e)));
    const call = async (path: string, init: RequestInit = {}) => {
      const res = await t.orchestrator.app.request(path, { ...init, headers: { 'X-Tenant-Name': 'ABC', ...(init.headers ?? {}) } });
      bodies.push(await res.text());
      return res.status;
    };
    const auth = { authorization: `Bearer ${SECRETS.authToken}` };
    // A sync and a delay sample that the store rejects, with the keys in the request signature.
    expect(await call('/api/v1/component/sync?componentType=application', { method: 'POST', headers: auth })).toBeGreaterThanOrEqual(500);
    expect(await call('/api/v1/metric/sync-delay')).toBe(200);
    // Wrong and missing tokens, a token echoed in a body, a bad body.
    expect(await call('/monitor-spark-job', { method: 'POST', headers: { authorization: `Bearer ${SECRETS.authToken}x` } })).toBe(401);
    expect(await call('/monitor-spark-job', { method: 'POST', headers: auth, body: JSON.stringify({ driverCores: SECRETS.authToken }) })).toBe(400);
    expect(await call('/monitor-spark-job', { method: 'POST', headers: auth })).toBe(200);
    for (const path of ['/api/v1/spark/status', '/healthcheck', '/openapi.json', '/metrics']) await call(path);
    // Let Spark polls fail against the absent master a few times.
    await new Promise((r) => setTimeout(r, 1000));

    const output = [t.logs.text, ...events, ...bodies].join('\n');
    expect(t.logs.lines.length).toBeGreaterThan(3);
    expect(output).toMatch(/discovery\.failed|delay\.failed/);
    for (const [name, value] of Object.entries(SECRETS)) expect(output.includes(value), name).toBe(false);
  });
});
