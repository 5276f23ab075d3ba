/**
 * Secrets never reach an output (README "Secrets never appear in logs, events or responses").
 *
 * Every path here really carries a secret towards an output, and only the scrubbing (the
 * `Redactor`: pino's line hook, the event stream, answers and error bodies, the config loader)
 * stands in between; each part also checks that its path was exercised (the masked value shows
 * up as "[redacted]"), so the test cannot pass by not reaching the secret:
 *
 *  1. a daemon (wired as `src/main.ts` wires it, the Redactor built from the config and the
 *     environment) whose Spark master answers creates with failures that quote the request —
 *     sparkProperties and environmentVariables hold the AWS and S3A keys and the session token —
 *     as a JSON error, a Jetty HTML page and a `success:false`; then accepts one, loses the driver
 *     and accepts the resubmission; whose S3 endpoint answers every request with an error quoting
 *     the access key id and session token the SDK signed with (the default chain's, from the
 *     environment); and a second tenant on the real Ceph RGW, which rejects those keys;
 *  2. the daemon process started on config files holding secrets with a config error: an unknown
 *     key, a password and a token written as numbers (the message names the value's type), and
 *     a HOCON syntax error whose offending token is a secret;
 *  3. the daemon process started against MariaDB with the password set and a wrong port, or a
 *     password the server refuses;
 *  4. daemon processes whose S3 credentials the AWS SDK fetches at run time, unknown to the
 *     configuration and the environment (a shared credentials profile, a role assumed on top of
 *     it through STS, a web identity exchanged at STS), against an S3 endpoint that quotes them
 *     back: their real stdout and stderr, every answer's headers and body, the event stream;
 *  5. the Spark master client's `SparkSubmissionRejected` for a `success:false` that quotes the
 *     create request (its credentials).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { Orchestrator } from '../../src/orchestrator.js';
import { Redactor, scrubCredentialPatterns } from '../../src/secrets.js';
import type { OrchestratorEvent } from '../../streams/events.js';
import { SparkSubmissionRejected } from '../../src/spark/errors.js';
import { SparkMasterClient } from '../../src/spark/master-client.js';
import { buildSubmissionRequest } from '../../src/spark/submission-request.js';
import { SparkMasterSimulator } from '../spark-sim/master-simulator.js';
import { mysqlTestServer } from '../support/databases.js';
import { LogCapture } from '../support/orchestrator.js';
import { s3TestEndpoint } from '../support/s3.js';
import { aliveOf, sleep, waitFor } from '../support/spark.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

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
const MAIN_CLASS = 'com.logwise.spark.MainApplication';

/** "<secret> in <where>" for every secret found in an output. */
function leaks(outputs: Record<string, string>, secrets: Record<string, string> = SECRETS): string[] {
  return Object.entries(outputs).flatMap(([where, text]) =>
    Object.entries(secrets)
      .filter(([, value]) => text.includes(value))
      .map(([name]) => `${name} in ${where}`),
  );
}

/**
 * An S3 endpoint that refuses every request with an error quoting the credentials it was signed
 * with (the access key id from the Authorization header, the session token), as a gateway or an
 * S3-compatible server can in its <Message>.
 */
async function echoingS3(): Promise<{ url: string; requests: () => number; seen: () => string[]; close: () => Promise<void> }> {
  let requests = 0;
  const seen: string[] = [];
  const server: Server = createServer((req, res) => {
    requests++;
    const credential = /Credential=([^,\s]+)/.exec(req.headers.authorization ?? '')?.[1] ?? 'none';
    seen.push(credential);
    const token = String(req.headers['x-amz-security-token'] ?? 'none');
    const body =
      `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>` +
      `<Message>Access Denied for credential ${credential} with security token ${token}</Message>` +
      `<RequestId>lw-echo-${requests}</RequestId></Error>`;
    req.resume();
    res.writeHead(403, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => requests,
    seen: () => seen,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

interface ProcessRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `node --import tsx src/main.ts --config <file>` to its exit (or a kill after `timeoutMs`). */
function runDaemon(configPath: string, env: Record<string, string>, timeoutMs = 45_000): Promise<ProcessRun> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--config', configPath], {
      cwd: ROOT,
      env: { ...process.env, LOG_LEVEL: 'debug', LOG_FORMAT: 'json', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** What a daemon started with the environment's AWS keys, the DB password and the token holds in its environment. */
const secretEnv = {
  AWS_ACCESS_KEY_ID: SECRETS.envAccessKey,
  AWS_SECRET_ACCESS_KEY: SECRETS.envSecret,
  AWS_SESSION_TOKEN: SECRETS.envToken,
};

const sparkSecrets = `awsAccessKeyId = "${SECRETS.sparkAccessKey}", awsSecretAccessKey = "${SECRETS.sparkSecret}", awsSessionToken = "${SECRETS.sparkToken}"
          s3aAccessKey = "${SECRETS.s3aKey}", s3aSecretKey = "${SECRETS.s3aSecret}"`;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lw-secrets-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('secrets in a run full of failures (submissions, syncs, delay samples, health)', () => {
  let sim: SparkMasterSimulator;
  let s3: Awaited<ReturnType<typeof echoingS3>>;
  let orchestrator: Orchestrator | undefined;
  const logs = new LogCapture();
  const events: OrchestratorEvent[] = [];
  const bodies: string[] = [];
  const statuses: string[] = [];
  let sse = '';

  beforeAll(async () => {
    // The S3 client signs with the default provider chain: these environment keys.
    for (const [k, v] of Object.entries(secretEnv)) vi.stubEnv(k, v);
    sim = new SparkMasterSimulator();
    await sim.start();
    sim.failNext(1_000, { endpoint: 'create', echoRequest: 'json', status: 400 });
    s3 = await echoingS3();
    const config = await parseConfig(`
      http { port = 0, host = "127.0.0.1", authToken = "${SECRETS.authToken}" }
      database { client = sqlite, filename = "${dir}/db.sqlite", password = "${SECRETS.dbPassword}" }
      tenants = [{
        name = "ABC"
        objectStore.aws { region = "us-east-1", bucket = "lw-secrets", endpointOverride = "${s3.url}" }
        kafka { kafkaBrokersHost = "kafka-1.internal" }
        delayMetrics.app { sampleEnv = prod, sampleServiceName = svc, sampleComponentName = application }
        spark {
          sparkMasterHost = "127.0.0.1", sparkMasterWebUiPort = ${sim.uiPort}, sparkMasterRestPort = ${sim.restPort}, sparkJarPath = "s3a://jars/app.jar"
          mainClass = "${MAIN_CLASS}"
          ${sparkSecrets}
        }
      }, {
        name = "XYZ"
        objectStore.aws { region = "us-east-1", bucket = "lw-secrets-nowhere", endpointOverride = "${s3TestEndpoint}" }
        delayMetrics.app { sampleEnv = prod, sampleServiceName = svc, sampleComponentName = application }
        kafka.kafkaBrokersHost = "127.0.0.1:1"
        spark { sparkMasterHost = "127.0.0.1", sparkMasterWebUiPort = 59998, sparkMasterRestPort = 59997, sparkJarPath = "file:///app.jar" }
      }]
      loop { discoverySeconds = 3600, delaySampleSeconds = 3600, sparkPollSeconds = 0.2, submitGraceSeconds = 0.3, backoff { minSeconds = 0.05, maxSeconds = 0.2 } }`);
    // As src/main.ts wires it: the Redactor from the config and the process environment.
    const redactor = Redactor.fromConfig(config);
    const log = createLogger({ level: 'debug', redactor, destination: logs });
    orchestrator = new Orchestrator({ config, log, redactor, listen: false, firstTickSpreadMs: Number.POSITIVE_INFINITY, random: () => 0.999999 });
    orchestrator.supervisor.events$.subscribe((e) => events.push(e));
    await orchestrator.start();
    // The live event stream, read the way a client reads it.
    const res = await orchestrator.app.request('/api/v1/events');
    const reader = res.body!.getReader();
    void (async () => {
      for (;;) {
        const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
        if (done) break;
        sse += new TextDecoder().decode(value);
      }
    })();
  });

  afterAll(async () => {
    await orchestrator?.stop();
    await sim?.stop();
    await s3?.close();
    vi.unstubAllEnvs();
  });

  const call = async (path: string, init: RequestInit = {}, tenant = 'ABC') => {
    const res = await orchestrator!.app.request(path, { ...init, headers: { 'X-Tenant-Name': tenant, ...(init.headers ?? {}) } });
    const text = await res.text();
    bodies.push(text);
    return { status: res.status, text };
  };
  const auth = { authorization: `Bearer ${SECRETS.authToken}` };

  it('Spark failures that quote the create request (the keys and token it carries) reach no log, event, status or answer', { timeout: 60_000 }, async () => {
    for (const echo of ['json', 'html', 'rejected'] as const) {
      // The first failure was set up before the daemon started (its first poll submits at once).
      const since = echo === 'json' ? 0 : events.length;
      if (echo !== 'json') sim.failNext(1_000, { endpoint: 'create', echoRequest: echo, status: 500 });
      const failed = await waitFor(
        () => events.slice(since).find((e) => e.type === 'spark.submit-failed' && e.tenant === 'ABC'),
        `a failed create answered with the ${echo} echo`,
      );
      // The status as the failure left it (its lastError quotes the master's answer).
      const status = await call('/api/v1/spark/status');
      expect(status.status).toBe(200);
      statuses.push(status.text);
      await call('/pipeline/health');
      // The path is live: the master's answer reached the event and the status, masked.
      expect.soft(JSON.stringify(failed), `${echo} echo in spark.submit-failed`).toContain('[redacted]');
      expect.soft(status.text, `${echo} echo in the status`).toContain('[redacted]');
      sim.clearFaults();
    }
    // Accepted at last; the driver dies and is resubmitted; a monitor with overrides.
    await waitFor(() => aliveOf(sim, MAIN_CLASS).length === 1, 'a driver');
    const first = aliveOf(sim, MAIN_CLASS)[0]!;
    sim.killDriverProcess(first.id, 'FAILED');
    await waitFor(() => aliveOf(sim, MAIN_CLASS).some((d) => d.id !== first.id), 'the resubmitted driver');
    expect((await call('/monitor-spark-job', { method: 'POST', headers: auth, body: JSON.stringify({ driverCores: 2 }) })).status).toBe(200);
    statuses.push((await call('/api/v1/spark/status')).text);
    // What the master received did hold the secrets: they were there to leak.
    expect(sim.createRequests.map((r) => r.raw).join('\n')).toContain(SECRETS.s3aSecret);
    expect(sim.createRequests.filter((r) => r.submissionId !== undefined).length).toBeGreaterThanOrEqual(2);
  });

  it('S3 failures that quote the signing credentials, auth failures and bad bodies reach no log, event or answer', { timeout: 60_000 }, async () => {
    // ABC: the echoing endpoint; XYZ: the real RGW, which rejects the environment's keys.
    for (const tenant of ['ABC', 'XYZ']) {
      expect((await call('/api/v1/component/sync?componentType=application', { method: 'POST', headers: auth }, tenant)).status).toBeGreaterThanOrEqual(500);
      expect((await call('/api/v1/metric/sync-delay', {}, tenant)).status).toBe(200);
      expect((await call('/pipeline/health', {}, tenant)).status).toBe(200);
    }
    expect(s3.requests()).toBeGreaterThan(0);
    const discoveryFailed = events.filter((e) => e.type === 'discovery.failed' && e.tenant === 'ABC').map((e) => JSON.stringify(e));
    expect.soft(discoveryFailed.join('\n'), 'the echo reached the event, masked').toMatch(/credential \[redacted\].*security token \[redacted\]/);
    // Wrong and missing tokens, a token echoed in a body, a bad body.
    expect((await call('/monitor-spark-job', { method: 'POST', headers: { authorization: `Bearer ${SECRETS.authToken}x` } })).status).toBe(401);
    expect((await call('/monitor-spark-job', { method: 'POST', headers: auth, body: JSON.stringify({ driverCores: SECRETS.authToken }) })).status).toBe(400);
    expect((await call('/api/v1/spark/replay', { method: 'POST', headers: auth, body: `{"startingOffsetsTimestamp": "${SECRETS.sparkSecret}"` })).status).toBe(
      400,
    );
    for (const path of ['/healthcheck', '/openapi.json']) await call(path);
    // XYZ's Spark polls fail against the absent master meanwhile.
    await sleep(500);
  });

  it('none of them in the logs, the events (in process and over SSE), /metrics, the status or any answer', async () => {
    const metrics = await call('/metrics');
    expect(metrics.status).toBe(200);
    statuses.push((await call('/api/v1/spark/status', {}, 'XYZ')).text);
    await sleep(100);
    expect(logs.lines.length).toBeGreaterThan(10);
    expect(logs.text).toMatch(/spark\.submit-failed/);
    expect(logs.text).toMatch(/discovery\.failed/);
    expect(sse).toMatch(/event: spark\.submit-failed/);
    expect(
      leaks({
        logs: logs.text,
        events: events.map((e) => JSON.stringify(e)).join('\n'),
        SSE: sse,
        '/metrics': metrics.text,
        '/api/v1/spark/status': statuses.join('\n'),
        answers: bodies.join('\n'),
      }),
    ).toEqual([]);
  });
});

describe('secrets in start-up failures (the daemon process)', () => {
  it('a config error prints its problems without any secret the file or the environment holds', { timeout: 90_000 }, async () => {
    const numericPassword = '98765432109';
    const numericToken = '5550001112223';
    const tenant = (extra = '') => `tenants = [{
      name = ABC
      objectStore.local.path = "${dir}/store"
      kafka.kafkaBrokersHost = "127.0.0.1:1"
      spark { sparkMasterHost = "127.0.0.1", sparkJarPath = "file:///app.jar", ${sparkSecrets} }
      ${extra}
    }]`;
    const files = {
      // All the secrets, and one key misspelt (its value a secret).
      unknownKey: `http { port = 0, authToken = "${SECRETS.authToken}" }
database { client = mysql, password = "${SECRETS.dbPassword}" }
ha { leaseSecond = "${SECRETS.sparkSecret}" }
${tenant()}`,
      // A password and a token written as numbers: "expected a string, got number …" must not name them.
      wrongTypes: `http { port = 0, authToken = ${numericToken} }
database { client = mysql, password = ${numericPassword} }
${tenant('spark.s3aSecretKey = { value = "' + SECRETS.s3aSecret + '" }')}`,
      // A stray brace: the parser stops at the next token, here a secret value (one the environment does not hold).
      syntax: `database { client = mysql, password = "${SECRETS.dbPassword}" }
http { port = 0 }}"${SECRETS.s3aSecret}"
${tenant()}`,
      // A required variable that is not set, with the secrets in the environment.
      unsetVariable: `database { client = mysql, password = \${LW_SECRETS_TEST_UNSET_PASSWORD} }
${tenant()}`,
    };
    const runs = await Promise.all(
      Object.entries(files).map(async ([name, text]) => {
        const path = join(dir, `${name}.conf`);
        writeFileSync(path, text);
        // The environment's DB_PASSWORD and ORCHESTRATOR_AUTH_TOKEN would override the file's (wrongly typed) ones.
        const env = name === 'wrongTypes' ? secretEnv : { ...secretEnv, DB_PASSWORD: SECRETS.dbPassword, ORCHESTRATOR_AUTH_TOKEN: SECRETS.authToken };
        return { name, run: await runDaemon(path, env) };
      }),
    );
    const expected: Record<string, RegExp> = {
      unknownKey: /config error: ha\.leaseSecond: unknown key/,
      wrongTypes: /config error: database\.password: expected a string, got a number/,
      syntax: /config error: .*invalid HOCON: .*line 2, column/,
      unsetVariable: /config error: .*\$\{LW_SECRETS_TEST_UNSET_PASSWORD\} is not set/,
    };
    for (const { name, run } of runs) {
      expect.soft(run.code, `${name}: exit code (stderr: ${run.stderr})`).toBe(2);
      expect.soft(run.stderr, name).toMatch(expected[name]!);
    }
    expect(leaks(Object.fromEntries(runs.map(({ name, run }) => [name, run.stdout + run.stderr])), { ...SECRETS, numericPassword, numericToken })).toEqual([]);
    // Both numbers are reported, by type only.
    expect.soft(runs.find((r) => r.name === 'wrongTypes')!.run.stderr).toMatch(/http\.authToken: expected a string, got a number/);
  });

  it('a database that cannot be reached or refuses the password: the failure is logged without the password', { timeout: 90_000 }, async () => {
    const conf = (port: number) => `http { port = 0, host = "127.0.0.1", authToken = "${SECRETS.authToken}" }
database { client = mysql, host = "${mysqlTestServer.host}", port = ${port}, user = "lw_secrets_nobody", password = "${SECRETS.dbPassword}", database = "lw_secrets_none" }
tenants = [{
  name = ABC
  objectStore.local.path = "${dir}/store"
  kafka.kafkaBrokersHost = "127.0.0.1:1"
  spark { sparkMasterHost = "127.0.0.1", sparkMasterWebUiPort = 59998, sparkMasterRestPort = 59997, sparkJarPath = "file:///app.jar", ${sparkSecrets} }
}]`;
    const cases = { wrongPort: 1, refusedPassword: mysqlTestServer.port };
    const runs = await Promise.all(
      Object.entries(cases).map(async ([name, port]) => {
        const path = join(dir, `${name}.conf`);
        writeFileSync(path, conf(port));
        return { name, run: await runDaemon(path, secretEnv) };
      }),
    );
    for (const { name, run } of runs) {
      expect(run.code, `${name}: exit code (stderr: ${run.stderr})`).toBe(1);
      const lines = run.stdout.split('\n').filter(Boolean);
      // Every line JSON (knex's own "Acquire connection error" goes through the logger), the reason logged.
      const parsed = lines.map((l) => JSON.parse(l) as { msg: string; error?: string });
      const fatal = parsed.find((l) => l.msg === 'could not start');
      expect(fatal?.error, name).toMatch(name === 'wrongPort' ? /ECONNREFUSED/ : /Access denied/);
      expect(run.stderr.trim(), `${name}: nothing outside the JSON logs`).toBe('');
    }
    expect(leaks(Object.fromEntries(runs.map(({ name, run }) => [name, run.stdout + run.stderr])))).toEqual([]);
  });
});

/** Credentials an STS, a profile file or the SDK hands out at run time: nobody configured them, so the Redactor does not know them. */
const RUNTIME = {
  profileKeyId: 'AKIALWPROFILE0000003',
  profileSecret: 'lw-profile-secret-3e8a1f',
  profileToken: `IQoJb3JpZ2luX2VjEPn//////////wEaCXVzLWVhc3QtMSJH${Buffer.from('lw-profile-session-'.repeat(16)).toString('base64')}`,
  assumedKeyId: 'ASIALWASSUMED0000004',
  assumedSecret: 'lw-assumed-secret-7d0c2b',
  assumedToken: `IQoJb3JpZ2luX2VjEPr//////////wEaCXVzLWVhc3QtMSJG${Buffer.from('lw-assumed-session-'.repeat(16)).toString('base64')}`,
  webKeyId: 'ASIALWWEBIDENT000005',
  webSecret: 'lw-web-identity-secret-4f9e',
  webToken: `FwoGZXIvYXdzEBYaDLwWebIdentity${Buffer.from('lw-web-identity-session-'.repeat(14)).toString('base64')}`,
};

/** An STS endpoint (AWS_ENDPOINT_URL_STS) answering AssumeRole and AssumeRoleWithWebIdentity with the RUNTIME credentials. */
async function fakeSts(): Promise<{ url: string; actions: string[]; close: () => Promise<void> }> {
  const actions: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString('utf8')));
    req.on('end', () => {
      const action = new URLSearchParams(body).get('Action') ?? 'none';
      actions.push(action);
      const [keyId, secret, token] =
        action === 'AssumeRoleWithWebIdentity'
          ? [RUNTIME.webKeyId, RUNTIME.webSecret, RUNTIME.webToken]
          : [RUNTIME.assumedKeyId, RUNTIME.assumedSecret, RUNTIME.assumedToken];
      const xml =
        `<${action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><${action}Result><Credentials>` +
        `<AccessKeyId>${keyId}</AccessKeyId><SecretAccessKey>${secret}</SecretAccessKey><SessionToken>${token}</SessionToken>` +
        `<Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>` +
        `<AssumedRoleUser><Arn>arn:aws:sts::000000000000:assumed-role/lw/s</Arn><AssumedRoleId>AROALWROLE:s</AssumedRoleId></AssumedRoleUser>` +
        `</${action}Result><ResponseMetadata><RequestId>lw-sts</RequestId></ResponseMetadata></${action}Response>`;
      res.writeHead(200, { 'content-type': 'text/xml' });
      res.end(xml);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}`, actions, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** A daemon process that keeps running: its raw stdout and stderr, and its port once it listens. */
function spawnDaemon(configPath: string, env: Record<string, string | undefined>) {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--config', configPath], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'debug', LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '' };
  proc.stdout.on('data', (d: Buffer) => (out.stdout += d.toString('utf8')));
  proc.stderr.on('data', (d: Buffer) => (out.stderr += d.toString('utf8')));
  const exit = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const port: Promise<number> = waitFor(
    () => {
      const line = out.stdout.split('\n').find((l) => l.includes('"msg":"orchestrator listening"'));
      return line ? Number(/"port":(\d+)/.exec(line)?.[1]) : undefined;
    },
    'the daemon to listen',
    60_000,
  );
  return { proc, out, exit, port };
}

describe('secrets the SDK fetches at run time, in a running daemon process (stdout, stderr, headers, bodies)', () => {
  it('profile, assumed-role and web-identity credentials quoted back by S3 reach no output of the process', { timeout: 120_000 }, async () => {
    const s3 = await echoingS3();
    const sts = await fakeSts();
    const sim = new SparkMasterSimulator();
    await sim.start();
    // Every create is refused with the request quoted (its Spark credentials).
    sim.failNext(100_000, { endpoint: 'create', echoRequest: 'rejected', status: 200 });
    const home = mkdtempSync(join(tmpdir(), 'lw-secrets-home-'));
    writeFileSync(
      join(home, 'credentials'),
      `[lw]\naws_access_key_id = ${RUNTIME.profileKeyId}\naws_secret_access_key = ${RUNTIME.profileSecret}\naws_session_token = ${RUNTIME.profileToken}\n`,
    );
    writeFileSync(join(home, 'config'), '[profile lw]\nregion = us-east-1\n');
    writeFileSync(join(home, 'web-identity-token'), 'lw-oidc-token-not-a-secret-here');
    const tenant = (name: string, bucket: string, extra = '') => `{
      name = "${name}"
      objectStore.aws { region = "us-east-1", bucket = "${bucket}", endpointOverride = "${s3.url}" ${extra} }
      kafka { kafkaBrokersHost = "127.0.0.1:1" }
      delayMetrics.app { sampleEnv = prod, sampleServiceName = svc, sampleComponentName = application }
      spark {
        sparkMasterHost = "127.0.0.1", sparkMasterWebUiPort = ${sim.uiPort}, sparkMasterRestPort = ${sim.restPort}, sparkJarPath = "s3a://jars/app.jar"
        ${sparkSecrets}
      }
    }`;
    const conf = (tenants: string[]) => `http { port = 0, host = "127.0.0.1", authToken = "${SECRETS.authToken}" }
database { client = sqlite, filename = "${home}/db-${tenants.length}.sqlite" }
loop { discoverySeconds = 1, delaySampleSeconds = 1, sparkPollSeconds = 0.5, submitGraceSeconds = 0.5, backoff { minSeconds = 0.2, maxSeconds = 0.5 } }
tenants = [${tenants.join(', ')}]`;
    // The environment's own AWS keys are out of the way: the chain reaches the profile, or the web identity.
    const noEnvKeys = {
      AWS_ACCESS_KEY_ID: undefined,
      AWS_SECRET_ACCESS_KEY: undefined,
      AWS_SESSION_TOKEN: undefined,
      AWS_PROFILE: undefined,
      AWS_REGION: 'us-east-1',
    };
    writeFileSync(
      join(home, 'profile.conf'),
      conf([tenant('PROF', 'lw-profile'), tenant('ROLE', 'lw-role', ', roleArn = "arn:aws:iam::000000000000:role/lw-role"')]),
    );
    writeFileSync(join(home, 'web.conf'), conf([tenant('WEB', 'lw-web')]));
    const daemons = [
      spawnDaemon(join(home, 'profile.conf'), {
        ...noEnvKeys,
        AWS_PROFILE: 'lw',
        AWS_SHARED_CREDENTIALS_FILE: join(home, 'credentials'),
        AWS_CONFIG_FILE: join(home, 'config'),
        AWS_ENDPOINT_URL_STS: sts.url,
      }),
      spawnDaemon(join(home, 'web.conf'), {
        ...noEnvKeys,
        AWS_SHARED_CREDENTIALS_FILE: join(home, 'none'),
        AWS_CONFIG_FILE: join(home, 'none'),
        AWS_WEB_IDENTITY_TOKEN_FILE: join(home, 'web-identity-token'),
        AWS_ROLE_ARN: 'arn:aws:iam::000000000000:role/lw-web',
        AWS_ROLE_SESSION_NAME: 'lw-web',
        AWS_ENDPOINT_URL_STS: sts.url,
      }),
    ];
    const answers: string[] = [];
    const headers: string[] = [];
    try {
      const ports = await Promise.all(daemons.map((d) => d.port));
      const ask = async (port: number, method: string, path: string, tenant: string, opts: { auth?: boolean; body?: string } = {}) => {
        const res = await fetch(`http://127.0.0.1:${port}${path}`, {
          method,
          headers: { 'X-Tenant-Name': tenant, ...(opts.auth !== false ? { authorization: `Bearer ${SECRETS.authToken}` } : {}) },
          ...(opts.body !== undefined ? { body: opts.body } : {}),
          signal: AbortSignal.timeout(20_000),
        });
        headers.push(`${method} ${path}: ${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('; ')}`);
        const text = await res.text();
        answers.push(text);
        return { status: res.status, text };
      };
      // Each tenant's store has been listed with its run-time credentials (the echo saw them).
      await waitFor(
        () => [RUNTIME.profileKeyId, RUNTIME.assumedKeyId, RUNTIME.webKeyId].every((k) => s3.seen().some((c) => c.startsWith(k))),
        'S3 requests signed with every run-time key id',
        30_000,
      );
      for (const [port, tenants] of [
        [ports[0]!, ['PROF', 'ROLE']],
        [ports[1]!, ['WEB']],
      ] as const) {
        for (const tenant of tenants) {
          const sync = await ask(port, 'POST', '/api/v1/component/sync?componentType=application', tenant);
          expect(sync.status).toBeGreaterThanOrEqual(500);
          for (const path of ['/pipeline/health', '/api/v1/spark/status', '/api/v1/metric/sync-delay', '/service-details'])
            await ask(port, 'GET', path, tenant);
          await ask(port, 'POST', '/monitor-spark-job', tenant, { body: '{"driverCores":2}' });
          expect((await ask(port, 'POST', '/monitor-spark-job', tenant, { auth: false })).status).toBe(401);
        }
        for (const path of ['/healthcheck', '/metrics', '/openapi.json', '/nope']) await ask(port, 'GET', path, tenants[0]);
        // The event stream for a second.
        const sse = await fetch(`http://127.0.0.1:${port}/api/v1/events`, { signal: AbortSignal.timeout(1_000) })
          .then(async (res) => {
            headers.push(`GET /api/v1/events: ${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('; ')}`);
            let text = '';
            try {
              for await (const chunk of res.body!) text += Buffer.from(chunk).toString('utf8');
            } catch {
              // the timeout ends it
            }
            return text;
          })
          .catch(() => '');
        answers.push(sse);
      }
      // A submission refused with the request quoted was logged too.
      await waitFor(() => daemons[0]!.out.stdout.includes('spark.submit-failed'), 'a refused create in the log', 20_000);
    } finally {
      for (const d of daemons) d.proc.kill('SIGTERM');
      const codes = await Promise.all(daemons.map((d) => d.exit));
      await sim.stop();
      await s3.close();
      await sts.close();
      expect(codes).toEqual([0, 0]);
    }
    const [profile, web] = daemons.map((d) => d.out);
    // The paths were live: STS handed the credentials out, S3 quoted them, the logs carry the quote masked.
    expect(sts.actions).toEqual(expect.arrayContaining(['AssumeRole', 'AssumeRoleWithWebIdentity']));
    console.log(
      `secrets at run time: ${profile!.stdout.split('\n').length + web!.stdout.split('\n').length} log lines, ${(profile!.stderr + web!.stderr).split('\n').filter(Boolean).length} stderr lines, ` +
        `${answers.length} answers, STS ${sts.actions.join(', ')}`,
    );
    expect(
      leaks(
        {
          'profile daemon stdout': profile!.stdout,
          'profile daemon stderr': profile!.stderr,
          'web identity daemon stdout': web!.stdout,
          'web identity daemon stderr': web!.stderr,
          'response headers': headers.join('\n'),
          'response bodies': answers.join('\n'),
        },
        { ...RUNTIME, ...SECRETS },
      ),
    ).toEqual([]);
    expect(profile!.stdout).toMatch(/credential \[redacted\].*security token \[redacted\]/);
    expect(web!.stdout).toMatch(/credential \[redacted\].*security token \[redacted\]/);
    rmSync(home, { recursive: true, force: true });
  });
});

describe('SparkSubmissionRejected: what the master quotes back is scrubbed', () => {
  it('a success:false quoting the create request keeps none of its credentials, in the message or in masterMessage', async () => {
    const sim = new SparkMasterSimulator();
    await sim.start();
    const client = new SparkMasterClient({ hosts: ['127.0.0.1'], webUiPort: sim.uiPort, restPort: sim.restPort });
    try {
      const config = await parseConfig(`tenants = [{
        name = ABC, objectStore.aws { region = "us-east-1", bucket = "b" }, kafka.kafkaBrokersHost = k
        spark { sparkMasterHost = "127.0.0.1", sparkJarPath = "s3a://jars/app.jar", ${sparkSecrets} }
      }]`);
      const request = buildSubmissionRequest({ tenant: config.tenants[0]!, masterHost: '127.0.0.1' });
      // A run-time session token the request carries in its environment (the master echoes the whole request).
      request.environmentVariables.AWS_SESSION_TOKEN = RUNTIME.assumedToken;
      sim.failNext(1, { endpoint: 'create', echoRequest: 'rejected', status: 200 });
      const error = await client.createSubmission(request).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(SparkSubmissionRejected);
      const rejected = error as SparkSubmissionRejected;
      // The master did quote the request (the path is live), masked.
      expect(rejected.masterMessage).toContain('sparkProperties');
      expect(rejected.masterMessage).toContain('[redacted]');
      expect(leaks({ masterMessage: rejected.masterMessage, message: rejected.message }, { ...SECRETS, assumedToken: RUNTIME.assumedToken })).toEqual([]);
    } finally {
      await client.close();
      await sim.stop();
    }
  });
});

describe('scrubCredentialPatterns: credentials nobody configured, recognised by shape or name', () => {
  it('masks AWS key ids, STS session tokens and values under credential names; leaves everything else', () => {
    const quoted = [
      `Access Denied for credential ${RUNTIME.assumedKeyId}/20260101/us-east-1/s3/aws4_request with security token ${RUNTIME.assumedToken}`,
      `<Error><AWSAccessKeyId>${RUNTIME.profileKeyId}</AWSAccessKeyId><CanonicalRequest>GET /b x-amz-security-token:${RUNTIME.webToken}</CanonicalRequest></Error>`,
      `aws_secret_access_key = ${RUNTIME.profileSecret}\n"SecretAccessKey":"${RUNTIME.assumedSecret}" <SecretAccessKey>${RUNTIME.webSecret}</SecretAccessKey>`,
      `https://b.s3.amazonaws.com/k?X-Amz-Credential=${RUNTIME.webKeyId}%2F20260101&X-Amz-Security-Token=${encodeURIComponent('opaque-token-value-1234')}`,
    ].join('\n');
    const scrubbed = scrubCredentialPatterns(quoted);
    expect(leaks({ scrubbed }, { ...RUNTIME, opaque: 'opaque-token-value-1234' })).toEqual([]);
    expect(scrubbed).toContain('credential [redacted]/20260101/us-east-1/s3/aws4_request with security token [redacted]');
    expect(scrubbed).toContain('aws_secret_access_key = [redacted]');
    // A value already masked stays as it is; text without credentials is returned unchanged.
    expect(scrubCredentialPatterns('"AWS_SESSION_TOKEN":"[redacted]"')).toBe('"AWS_SESSION_TOKEN":"[redacted]"');
    for (const benign of [
      'The security token included in the request is invalid.',
      '{"event":"lease.acquired","token":42,"holder":"host-1:123"}',
      'driver-20260101120000-0003 FAILED on worker-20260101115900-127.0.0.1-40001',
      'commit 3f786850e387550fdab836ed7e6dc881de23001b, request id 4442587FB7D0A2F9, host id vlR7PnpV2Ce81l0PRw6jlUpck7Jo5ZsQjryTjKlc5aLWGVHPZLj5NeC6qMa0emYBDXOo6QBU0Wo=',
      'logs/env=prod/service_name=orders/component_name=api/year=2026/month=01/day=01/hour=00/minute=00/part-0.parquet',
    ]) {
      expect(scrubCredentialPatterns(benign)).toBe(benign);
    }
  });
});
