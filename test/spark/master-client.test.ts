/**
 * SparkMasterClient against the Spark master simulator, over real HTTP on loopback.
 */
import { createServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  SparkError,
  SparkMalformedStateError,
  SparkProtocolError,
  SparkSubmissionRejected,
  SparkTimeoutError,
  SparkUnreachableError,
} from '../../src/spark/errors.js';
import { SparkMasterClient, type SparkMasterClientOptions } from '../../src/spark/master-client.js';
import { parseMasterState } from '../../src/spark/master-state-schema.js';
import type { CreateSubmissionRequest } from '../../src/spark/types.js';
import { SparkMasterSimulator, jacksonPretty, type MasterSimulatorOptions } from '../spark-sim/master-simulator.js';

const SECRET = 'AKIA-very-secret-key-4711';
const T0 = Date.UTC(2024, 0, 1, 12, 5, 1, 234);

let sims: SparkMasterSimulator[] = [];
let clients: SparkMasterClient[] = [];
afterEach(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(sims.map((s) => s.stop()));
  sims = [];
  clients = [];
});

async function startSim(opts: MasterSimulatorOptions = {}): Promise<SparkMasterSimulator> {
  const sim = new SparkMasterSimulator({ killDelayMs: null, ...opts });
  sims.push(sim);
  return sim.start();
}

function clientFor(sim: SparkMasterSimulator, opts: Partial<SparkMasterClientOptions> = {}): SparkMasterClient {
  const c = new SparkMasterClient({ hosts: [sim.host], webUiPort: sim.uiPort, restPort: sim.restPort, timeoutMs: 1_000, ...opts });
  clients.push(c);
  return c;
}

function submission(overrides: Partial<CreateSubmissionRequest> = {}): CreateSubmissionRequest {
  return {
    action: 'CreateSubmissionRequest',
    clientSparkVersion: '3.5.1',
    appResource: 's3a://jars/logwise.jar',
    mainClass: 'com.logwise.spark.MainApplication',
    appArgs: ['kafka.cluster.dns=kafka:9092'],
    environmentVariables: {},
    sparkProperties: {
      'spark.app.name': 'logwise',
      'spark.driver.supervise': 'true',
      'spark.driver.memory': '1G',
      'spark.driver.cores': '1',
      'spark.hadoop.fs.s3a.secret.key': SECRET,
    },
    ...overrides,
  };
}

async function caught(p: Promise<unknown>): Promise<SparkError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SparkError) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}

function expectNoSecret(e: Error): void {
  expect(e.message).not.toContain(SECRET);
  expect(JSON.stringify(e)).not.toContain(SECRET);
}

describe('masterState()', () => {
  it('parses the /json/ document: status, figures, drivers (starttime → number, "None" → null)', async () => {
    const sim = await startSim({ now: () => T0, workers: [{ cores: 2, memoryMb: 2048 }] });
    const running = sim.addDriverByHand({ mainClass: 'com.a.Main', cores: 1, memoryMb: 1024 });
    const waiting = sim.addDriverByHand({ mainClass: 'com.b.Main', cores: 4, memoryMb: 1024 });
    const client = clientFor(sim);
    const st = await client.masterState();
    expect(st).toEqual({
      webUiUrl: sim.uiUrl,
      url: 'spark://127.0.0.1:7077',
      status: 'ALIVE',
      aliveWorkers: 1,
      cores: 2,
      coresUsed: 1,
      memoryMb: 2048,
      memoryUsedMb: 1024,
      activeDrivers: [
        {
          id: running,
          startTime: T0,
          state: 'RUNNING',
          worker: sim.workers()[0]!.id,
          mainClass: 'com.a.Main',
          cores: 1,
          memoryMb: 1024,
          submitDate: 'Mon Jan 01 12:05:01 UTC 2024',
        },
        {
          id: waiting,
          startTime: T0,
          state: 'SUBMITTED',
          worker: null,
          mainClass: 'com.b.Main',
          cores: 4,
          memoryMb: 1024,
          submitDate: 'Mon Jan 01 12:05:01 UTC 2024',
        },
      ],
      completedDrivers: [],
    });
    expect(client.aliveHost).toBe('127.0.0.1');
  });

  it('returns a non-ALIVE master state as is (the caller sees the status)', async () => {
    const sim = await startSim({ status: 'STANDBY' });
    const client = clientFor(sim);
    expect((await client.masterState()).status).toBe('STANDBY');
    expect(client.aliveHost).toBeUndefined();
  });

  it('non-JSON and wrong-shape bodies → SparkProtocolError with a short message', async () => {
    const sim = await startSim();
    const client = clientFor(sim);
    sim.failNext(1, { endpoint: 'json', status: 200, body: '<html><title>Spark Master</title></html>', contentType: 'text/html' });
    let e = await caught(client.masterState());
    expect(e).toBeInstanceOf(SparkProtocolError);
    expect(e.message).toBe(`Spark master 127.0.0.1:${sim.uiPort} answered GET /json/ with a body that is not JSON: Spark Master`);

    sim.failNext(1, { endpoint: 'json', status: 200, body: '{"activedrivers":[]}', contentType: 'text/json' });
    e = await caught(client.masterState());
    expect(e).toBeInstanceOf(SparkProtocolError);
    expect(e.message).toMatch(/unexpected document: 'status' is missing or not a string$/);

    sim.failNext(1, { endpoint: 'json', status: 200, body: '{"status":"ALIVE","activedrivers":[{"id":"d","state":"RUNNING","starttime":"soon"}]}' });
    expect((await caught(client.masterState())).message).toMatch(/activedrivers\[0\]\.starttime is not a number$/);

    sim.failNext(1, { endpoint: 'json', status: 500 });
    e = await caught(client.masterState());
    expect(e).toMatchObject({ kind: 'protocol', status: 500 });
    expect(e.message).toMatch(/answered HTTP 500 to GET \/json\/: Error 500 Internal Server Error$/);

    expect((await client.masterState()).status).toBe('ALIVE');
  });

  it('accepts missing optional fields (url, figures, worker, submitdate) and numeric starttime', () => {
    const st = parseMasterState(
      {
        status: 'ALIVE',
        activedrivers: [{ id: 'driver-1', state: 'RUNNING', starttime: 5, worker: 'None', mainclass: 'a.B', cores: 1, memory: 1024 }],
        completeddrivers: [],
      },
      'http://m:8080',
    );
    expect(st).toEqual({
      webUiUrl: 'http://m:8080',
      url: '',
      status: 'ALIVE',
      aliveWorkers: 0,
      cores: 0,
      coresUsed: 0,
      memoryMb: 0,
      memoryUsedMb: 0,
      activeDrivers: [{ id: 'driver-1', startTime: 5, state: 'RUNNING', worker: null, mainClass: 'a.B', cores: 1, memoryMb: 1024, submitDate: '' }],
      completedDrivers: [],
    });
    expect(() => parseMasterState([], 'x')).toThrow('not a JSON object');
  });

  it('a document without a usable driver list is malformed, whatever else it says (SPEC §4.2)', () => {
    const good = { id: 'driver-1', state: 'RUNNING', starttime: '5', worker: 'None', mainclass: 'a.B', cores: 1, memory: 1024, submitdate: 'x' };
    const doc = (patch: Record<string, unknown>) => ({ status: 'ALIVE', activedrivers: [good], completeddrivers: [], ...patch });
    const cases: [Record<string, unknown>, string][] = [
      [doc({ activedrivers: undefined }), "'activedrivers' is missing: no usable driver list"],
      [doc({ activedrivers: null }), "'activedrivers' is null: no usable driver list"],
      [doc({ activedrivers: {} }), "'activedrivers' is not a list"],
      [doc({ activedrivers: 'driver-1' }), "'activedrivers' is not a list"],
      [doc({ completeddrivers: undefined }), "'completeddrivers' is missing: no usable driver list"],
      [doc({ completeddrivers: null }), "'completeddrivers' is null: no usable driver list"],
      [doc({ activedrivers: ['driver-1'] }), 'activedrivers[0] is not an object'],
      [doc({ activedrivers: [{ ...good, state: 'LIVELY' }] }), 'activedrivers[0].state "LIVELY" is not a driver state'],
      [doc({ activedrivers: [{ ...good, state: 3 }] }), 'activedrivers[0].state is missing or not a string'],
      [doc({ activedrivers: [{ ...good, mainclass: undefined }] }), 'activedrivers[0].mainclass is missing'],
      [doc({ activedrivers: [{ ...good, mainclass: 7 }] }), 'activedrivers[0].mainclass is not a string'],
      [doc({ activedrivers: [{ ...good, starttime: undefined }] }), 'activedrivers[0].starttime is missing'],
      [doc({ activedrivers: [{ ...good, cores: 'one' }] }), 'activedrivers[0].cores is not a number'],
      [doc({ activedrivers: [{ ...good, memory: null }] }), 'activedrivers[0].memory is missing'],
      [doc({ completeddrivers: [{ ...good, id: '' }] }), 'completeddrivers[0].id is missing or not a string'],
    ];
    for (const [d, message] of cases) expect(() => parseMasterState(d, 'x'), message).toThrow(message);
  });

  it('times out against a slow master (SparkUnreachableError naming the host)', async () => {
    const sim = await startSim();
    const client = clientFor(sim, { timeoutMs: 100 });
    sim.delayResponses(2_000);
    const t = Date.now();
    const e = await caught(client.masterState());
    expect(Date.now() - t).toBeLessThan(1_000);
    expect(e).toBeInstanceOf(SparkUnreachableError);
    expect(e.message).toBe(`Spark master unreachable: 127.0.0.1:${sim.uiPort} (timed out after 100 ms)`);
  });

  it('dropped connection → SparkUnreachableError', async () => {
    const sim = await startSim();
    const client = clientFor(sim);
    await client.masterState(); // warm keep-alive connection
    sim.dropNext(1, 'json');
    const e = await caught(client.masterState());
    expect(e).toBeInstanceOf(SparkUnreachableError);
    expect(e.message).toMatch(/^Spark master unreachable: 127\.0\.0\.1:\d+ \(/);
    expect((await client.masterState()).status).toBe('ALIVE');
  });

  it('refused connections → SparkUnreachableError; works again once the master is back', async () => {
    const sim = await startSim();
    const client = clientFor(sim);
    await client.masterState();
    await sim.refuseConnections(true);
    const e = await caught(client.masterState());
    expect(e).toBeInstanceOf(SparkUnreachableError);
    expect(e.message).toBe(`Spark master unreachable: 127.0.0.1:${sim.uiPort} (connection refused)`);
    expect(client.aliveHost).toBeUndefined();
    await sim.refuseConnections(false);
    expect((await client.masterState()).status).toBe('ALIVE');
  });
});

describe('createSubmission / killSubmission / submissionStatus', () => {
  it('create → id; status → RUNNING on a worker; kill → accepted, asynchronous; then not found in the active set', async () => {
    const sim = await startSim();
    const client = clientFor(sim);
    const res = await client.createSubmission(submission());
    expect(res.submissionId).toMatch(/^driver-\d{14}-0000$/);
    expect(res.message).toBe(`Driver successfully submitted as ${res.submissionId}`);
    expect(sim.createRequests[0]!.body).toEqual(submission());
    expect(sim.getDriver(res.submissionId)).toMatchObject({ state: 'RUNNING', supervise: true, memoryMb: 1024 });

    const st = await client.submissionStatus(res.submissionId);
    expect(st).toEqual({ found: true, driverState: 'RUNNING', workerId: sim.workers()[0]!.id, workerHostPort: '10.0.0.1:35001' });

    expect(await client.killSubmission(res.submissionId)).toEqual({ accepted: true, message: `Kill request for ${res.submissionId} submitted` });
    expect((await client.masterState()).activeDrivers).toMatchObject([{ id: res.submissionId, state: 'RUNNING' }]);
    sim.finishPendingKills();
    expect((await client.masterState()).completedDrivers).toMatchObject([{ id: res.submissionId, state: 'KILLED' }]);
    expect(await client.submissionStatus(res.submissionId)).toMatchObject({ found: true, driverState: 'KILLED' });
    expect(await client.killSubmission(res.submissionId)).toEqual({
      accepted: false,
      message: `Driver ${res.submissionId} has already finished or does not exist`,
    });
  });

  it('unknown ids: status found:false, kill accepted:false; ids are URL-encoded', async () => {
    const sim = await startSim();
    const client = clientFor(sim);
    expect(await client.submissionStatus('driver-unknown')).toEqual({ found: false });
    expect(await client.killSubmission('a b?c#d')).toEqual({ accepted: false, message: 'Driver a b?c#d has already finished or does not exist' });
    expect(sim.requests.at(-1)!.path).toBe('/v1/submissions/kill/a%20b%3Fc%23d');
  });

  it('SUBMITTED driver: status has no worker', async () => {
    const sim = await startSim({ workers: [] });
    const client = clientFor(sim);
    const { submissionId } = await client.createSubmission(submission());
    expect(await client.submissionStatus(submissionId)).toEqual({ found: true, driverState: 'SUBMITTED' });
  });

  it('ERROR driver: status carries the exception message', async () => {
    const sim = await startSim();
    const client = clientFor(sim);
    const { submissionId } = await client.createSubmission(submission());
    sim.killDriverProcess(submissionId, 'ERROR', { exception: 'java.io.IOException: jar not found\n\tat x' });
    expect(await client.submissionStatus(submissionId)).toMatchObject({
      found: true,
      driverState: 'ERROR',
      message: 'Exception from the cluster:\njava.io.IOException: jar not found\n\tat x',
    });
  });

  it('success:false (master became STANDBY) → SparkSubmissionRejected with the master message; kill and status too', async () => {
    const sim = await startSim();
    const client = clientFor(sim);
    await client.masterState();
    sim.setStatus('STANDBY');
    const e = await caught(client.createSubmission(submission()));
    expect(e).toBeInstanceOf(SparkSubmissionRejected);
    const r = e as SparkSubmissionRejected;
    expect(r.masterMessage).toBe('Current state is not alive: STANDBY. Can only accept driver submissions in ALIVE state.');
    expect(r.masterStatus).toBe('STANDBY');
    expect(r.kind).toBe('rejected');
    expectNoSecret(r);
    expect(client.aliveHost).toBeUndefined(); // forgotten: rediscovered next time
    expect(sim.createRequests).toHaveLength(1);

    // no ALIVE master known: rejected without sending a create
    const e2 = await caught(client.createSubmission(submission()));
    expect(e2).toBeInstanceOf(SparkSubmissionRejected);
    expect(e2.message).toMatch(/No ALIVE Spark master among 127\.0\.0\.1 \(127\.0\.0\.1 is STANDBY\)/);
    expect(sim.createRequests).toHaveLength(1);

    sim.setStatus('ALIVE');
    await client.masterState();
    sim.setStatus('RECOVERING');
    await expect(client.killSubmission('driver-x')).rejects.toMatchObject({
      kind: 'rejected',
      masterStatus: 'RECOVERING',
      masterMessage: 'Current state is not alive: RECOVERING. Can only kill drivers in ALIVE state.',
    });
    sim.setStatus('ALIVE');
    await client.masterState();
    sim.setStatus('STANDBY');
    const e3 = await caught(client.submissionStatus('driver-x'));
    expect(e3).toBeInstanceOf(SparkSubmissionRejected);
    expect((e3 as SparkSubmissionRejected).masterStatus).toBe('STANDBY');
  });

  it('400 validation error → SparkProtocolError with status and first line only, never the request body', async () => {
    const sim = await startSim();
    const client = clientFor(sim);
    const bad = { ...submission(), appArgs: undefined } as unknown as CreateSubmissionRequest;
    const e = await caught(client.createSubmission(bad));
    expect(e).toBeInstanceOf(SparkProtocolError);
    expect(e).toMatchObject({ status: 400, kind: 'protocol' });
    expect(e.message).toBe(
      `Spark create request to 127.0.0.1:${sim.restPort} failed with HTTP 400: Malformed request: org.apache.spark.deploy.rest.SubmitRestProtocolException: Validation of message CreateSubmissionRequest failed!`,
    );
    expectNoSecret(e);

    const noMain = { ...submission(), mainClass: undefined } as unknown as CreateSubmissionRequest;
    expect((await caught(client.createSubmission(noMain))).message).toMatch(/HTTP 400: .*Main class is missing\.$/);
  });

  it('an ErrorResponse that echoes the body keeps the body out of the error', async () => {
    const sim = await startSim();
    const client = clientFor(sim);
    await client.masterState();
    sim.failNext(1, {
      endpoint: 'create',
      status: 400,
      contentType: 'application/json;charset=utf-8',
      body: jacksonPretty(
        { action: 'ErrorResponse', message: `Malformed request: X: Action field not found in JSON:\n{"secret":"${SECRET}"}`, serverSparkVersion: '3.5.1' },
        true,
      ),
    });
    const e = await caught(client.createSubmission(submission()));
    expect(e.message).toMatch(/HTTP 400: Malformed request: X: Action field not found in JSON:$/);
    expectNoSecret(e);
  });

  it('468, 405 and 500 (non-JSON Jetty pages) → SparkProtocolError with status and a trimmed message', async () => {
    const sim = await startSim();
    const client = clientFor(sim);
    await client.masterState();
    sim.failNext(1, {
      endpoint: 'create',
      status: 468,
      contentType: 'application/json;charset=utf-8',
      body: jacksonPretty(
        {
          action: 'ErrorResponse',
          highestProtocolVersion: 'v1',
          message: "Unknown protocol version 'v2'. Please submit requests through http://[host]:[port]/v1/submissions/...",
          serverSparkVersion: '3.5.1',
        },
        true,
      ),
    });
    let e = await caught(client.createSubmission(submission()));
    expect(e).toMatchObject({ kind: 'protocol', status: 468 });
    expect(e.message).toMatch(/HTTP 468: Unknown protocol version 'v2'\. .* \(highest protocol version: v1\)$/);

    sim.failNext(1, { endpoint: 'kill', status: 405 });
    e = await caught(client.killSubmission('driver-x'));
    expect(e).toMatchObject({ kind: 'protocol', status: 405 });
    expect(e.message).toBe(`Spark kill request to 127.0.0.1:${sim.restPort} failed with HTTP 405: Error 405 Method Not Allowed`);

    sim.failNext(1, { endpoint: 'create', status: 500 });
    e = await caught(client.createSubmission(submission()));
    expect(e).toMatchObject({ kind: 'protocol', status: 500 });
    expect(e.message).toBe(`Spark create request to 127.0.0.1:${sim.restPort} failed with HTTP 500: Error 500 Internal Server Error`);
    expectNoSecret(e);

    // a real 500 from the servlet (cores "1.5" passes validation, then .toInt fails)
    const props = { ...submission().sparkProperties, 'spark.driver.cores': '1.5' };
    e = await caught(client.createSubmission(submission({ sparkProperties: props })));
    expect(e).toMatchObject({ status: 500 });
    expectNoSecret(e);

    sim.failNext(1, { endpoint: 'status', status: 200, body: 'OK', contentType: 'text/plain' });
    e = await caught(client.submissionStatus('driver-x'));
    expect(e.message).toBe(`Spark status answer from 127.0.0.1:${sim.restPort} is not a JSON object: OK`);

    sim.failNext(1, { endpoint: 'status', status: 200, body: '{"action":"ErrorResponse","message":"boom\\nstack"}' });
    e = await caught(client.submissionStatus('driver-x'));
    expect(e.message).toMatch(/has action "ErrorResponse", expected SubmissionStatusResponse: boom$/);
    expect(sim.activeDrivers()).toHaveLength(0);
  });

  it('slow create → SparkTimeoutError (maybeProcessed: the master may still create the driver)', async () => {
    const sim = await startSim();
    const client = clientFor(sim, { timeoutMs: 100 });
    await client.masterState();
    sim.delayResponses(250);
    const e = await caught(client.createSubmission(submission()));
    expect(e).toBeInstanceOf(SparkTimeoutError);
    expect(e).toBeInstanceOf(SparkUnreachableError);
    expect(e).toMatchObject({ kind: 'timeout', maybeProcessed: true, timeoutMs: 100 });
    expect(e.message).toBe(`Spark master 127.0.0.1:${sim.restPort}: POST /v1/submissions/create timed out after 100 ms`);
    expectNoSecret(e);
    await expect.poll(() => sim.activeDrivers().length, { timeout: 1_000, interval: 10 }).toBe(1);
    expect(sim.createRequests).toHaveLength(1); // never retried
  });

  it('dropped create → SparkUnreachableError, maybeProcessed; no retry', async () => {
    const sim = await startSim();
    const client = clientFor(sim);
    await client.masterState();
    sim.dropNext(1, 'create', { processFirst: true });
    const e = await caught(client.createSubmission(submission()));
    expect(e).toBeInstanceOf(SparkUnreachableError);
    expect(e).not.toBeInstanceOf(SparkTimeoutError);
    expect((e as SparkUnreachableError).maybeProcessed).toBe(true);
    expect(sim.createRequests).toHaveLength(1);
    expect(sim.activeDrivers()).toHaveLength(1);
  });

  it('refused create → SparkUnreachableError, not processed', async () => {
    const sim = await startSim();
    const client = clientFor(sim);
    await client.masterState();
    await sim.refuseConnections(true);
    const e = await caught(client.createSubmission(submission()));
    expect(e).toBeInstanceOf(SparkUnreachableError);
    expect(e).toMatchObject({ kind: 'unreachable', maybeProcessed: false });
    expect(e.message).toBe(
      `Spark master 127.0.0.1:${sim.restPort}: POST /v1/submissions/create failed: connection refused (is the master's REST submission server on? It needs spark.master.rest.enabled=true, off by default in Spark 3.x, and spark.master.rest.port=${sim.restPort})`,
    );
    expect(client.aliveHost).toBeUndefined(); // rediscovered through /json/ next time
  });

  it('REST server off (the web UI answers ALIVE, the REST port refuses): the create error names spark.master.rest.enabled', async () => {
    const sim = await startSim();
    const closed = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const client = clientFor(sim, { restPort: closed });
    const e = await caught(client.createSubmission(submission()));
    expect(e).toMatchObject({ kind: 'unreachable', maybeProcessed: false, target: `127.0.0.1:${closed}` });
    expect(e.message).toContain(`127.0.0.1:${closed}: POST /v1/submissions/create failed: connection refused`);
    expect(e.message).toContain('spark.master.rest.enabled=true');
    expect(sim.counts()).toMatchObject({ json: 1, create: 0 });
  });

  it('discovers the ALIVE master on first use', async () => {
    const sim = await startSim();
    const client = clientFor(sim);
    const { submissionId } = await client.createSubmission(submission());
    expect(sim.counts()).toMatchObject({ json: 1, create: 1 });
    expect((await client.submissionStatus(submissionId)).found).toBe(true);
  });

  it('an external signal cancels a call', async () => {
    const sim = await startSim();
    const client = clientFor(sim);
    sim.delayResponses(300);
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('shutting down')), 30);
    await expect(client.masterState({ signal: ac.signal })).rejects.toThrow('shutting down');
  });

  it('close() closes the pool; later calls throw', async () => {
    const sim = await startSim();
    const client = clientFor(sim);
    await client.masterState();
    await client.close();
    await expect(client.masterState()).rejects.toThrow('closed');
  });

  it('validates its options', () => {
    expect(() => new SparkMasterClient({ hosts: [], webUiPort: 8080, restPort: 6066 })).toThrow(/at least one/);
    expect(() => new SparkMasterClient({ hosts: ['m'], webUiPort: 0, restPort: 6066 })).toThrow(/webUiPort/);
  });
});

describe('Spark HA (several masters)', () => {
  /** Two simulators on 127.0.0.1 and 127.0.0.2 sharing the same (ephemeral) ports. */
  async function pair(): Promise<[SparkMasterSimulator, SparkMasterSimulator]> {
    for (let attempt = 0; ; attempt++) {
      const a = await startSim({ host: '127.0.0.1', status: 'STANDBY' });
      try {
        const b = await startSim({ host: '127.0.0.2', uiPort: a.uiPort, restPort: a.restPort });
        return [a, b];
      } catch (e) {
        if (attempt >= 5) throw e;
        await a.stop();
      }
    }
  }

  it('uses the ALIVE master, and switches when they swap', async () => {
    const [a, b] = await pair();
    const client = new SparkMasterClient({ hosts: ['127.0.0.1', '127.0.0.2'], webUiPort: a.uiPort, restPort: a.restPort, timeoutMs: 1_000 });
    clients.push(client);

    let st = await client.masterState();
    expect(st.status).toBe('ALIVE');
    expect(st.webUiUrl).toBe(b.uiUrl);
    expect(client.aliveHost).toBe('127.0.0.2');
    const first = await client.createSubmission(submission());
    expect(b.createRequests).toHaveLength(1);
    expect(a.createRequests).toHaveLength(0);
    expect(await client.submissionStatus(first.submissionId)).toMatchObject({ found: true });

    // failover: a becomes ALIVE, b STANDBY
    b.setStatus('STANDBY');
    a.setStatus('ALIVE');
    st = await client.masterState();
    expect(st.webUiUrl).toBe(a.uiUrl);
    expect(client.aliveHost).toBe('127.0.0.1');
    await client.createSubmission(submission());
    expect(a.createRequests).toHaveLength(1);
    expect(b.createRequests).toHaveLength(1);

    // swap again without polling first: the stale master rejects, the next call rediscovers
    a.setStatus('STANDBY');
    b.setStatus('ALIVE');
    await expect(client.createSubmission(submission())).rejects.toBeInstanceOf(SparkSubmissionRejected);
    expect(client.aliveHost).toBeUndefined();
    await client.createSubmission(submission());
    expect(b.createRequests).toHaveLength(2);
    expect(b.activeDrivers()).toHaveLength(2);
  });

  it('one master down: the other ALIVE one is used; none ALIVE: the first answering state; none answering: unreachable naming both', async () => {
    const [a, b] = await pair();
    const client = new SparkMasterClient({ hosts: ['127.0.0.1', '127.0.0.2'], webUiPort: a.uiPort, restPort: a.restPort, timeoutMs: 1_000 });
    clients.push(client);
    await a.refuseConnections(true);
    expect((await client.masterState()).webUiUrl).toBe(b.uiUrl);

    b.setStatus('STANDBY');
    await a.refuseConnections(false);
    a.setStatus('RECOVERING');
    const st = await client.masterState();
    expect([st.status, st.webUiUrl]).toEqual(['RECOVERING', a.uiUrl]);
    expect(client.aliveHost).toBeUndefined();

    await a.refuseConnections(true);
    await b.refuseConnections(true);
    const e = await caught(client.masterState());
    expect(e).toBeInstanceOf(SparkUnreachableError);
    // b's pooled keep-alive connection may be seen closed before the refusal: either is "no answer"
    expect(e.message).toMatch(
      new RegExp(
        `^Spark master unreachable: 127\\.0\\.0\\.1:${a.uiPort} \\(connection refused\\), 127\\.0\\.0\\.2:${a.uiPort} \\(connection (refused|closed before an answer|reset)\\)$`,
      ),
    );
  });

  it('waits for every master (a slow one may be ALIVE too), each within the timeout; one that does not answer in time is left out', async () => {
    const [a, b] = await pair();
    const client = new SparkMasterClient({ hosts: ['127.0.0.1', '127.0.0.2'], webUiPort: a.uiPort, restPort: a.restPort, timeoutMs: 1_000 });
    clients.push(client);
    a.delayResponses(600);
    let t = Date.now();
    expect((await client.masterState()).webUiUrl).toBe(b.uiUrl);
    expect(Date.now() - t).toBeGreaterThanOrEqual(550);
    a.delayResponses(1_500);
    t = Date.now();
    const st = await client.masterState();
    expect([st.webUiUrl, st.splitBrain]).toEqual([b.uiUrl, undefined]);
    expect(Date.now() - t).toBeLessThan(1_400);
  });

  it('two ALIVE masters (split brain): the drivers of both, actions on one that stays the same while it is ALIVE', async () => {
    const [a, b] = await pair();
    a.setStatus('ALIVE');
    const onA = a.addDriverByHand({ mainClass: 'com.a.Main' });
    b.addDriverByHand({ mainClass: 'com.other.Job' }); // (each master numbers its drivers from 0000)
    const onB = b.addDriverByHand({ mainClass: 'com.a.Main' });
    const client = new SparkMasterClient({ hosts: ['127.0.0.1', '127.0.0.2'], webUiPort: a.uiPort, restPort: a.restPort, timeoutMs: 1_000 });
    clients.push(client);
    const st = await client.masterState();
    expect([st.status, st.webUiUrl, client.aliveHost]).toEqual(['ALIVE', a.uiUrl, '127.0.0.1']);
    // (An id both list, as b's other job and onA when made in the same second, keeps the acting master's entry.)
    expect(st.activeDrivers.filter((d) => d.mainClass === 'com.a.Main').map((d) => d.id)).toEqual([onA, onB]);
    expect(st.splitBrain).toMatchObject({ aliveMasters: [a.uiUrl, b.uiUrl], actingOn: a.uiUrl });
    expect([st.splitBrain?.elsewhere.get(onB), st.splitBrain?.elsewhere.has(onA)]).toEqual([b.uiUrl, false]);
    expect(Object.isFrozen(st) && Object.isFrozen(st.activeDrivers)).toBe(true);
    // Unchanged masters: the same view (and the lookups built over it) again.
    expect(await client.masterState()).toBe(st);
    await client.createSubmission(submission());
    expect([a.createRequests.length, b.createRequests.length]).toEqual([1, 0]);

    // The master acted on is kept while it is ALIVE, whichever answers first.
    b.delayResponses(0);
    a.delayResponses(50);
    expect((await client.masterState()).splitBrain?.actingOn).toBe(a.uiUrl);
    // It steps down: the other one, alone.
    a.setStatus('STANDBY');
    const after = await client.masterState();
    expect([after.webUiUrl, after.splitBrain, client.aliveHost]).toEqual([b.uiUrl, undefined, '127.0.0.2']);
    // Both ALIVE again: the one acted on last stays.
    a.setStatus('ALIVE');
    expect((await client.masterState()).splitBrain?.actingOn).toBe(b.uiUrl);
  });

  it('a malformed answer from a master that is or may be ALIVE fails the read; from one that says it is not ALIVE, it is left out', async () => {
    const [a, b] = await pair();
    const client = new SparkMasterClient({ hosts: ['127.0.0.1', '127.0.0.2'], webUiPort: a.uiPort, restPort: a.restPort, timeoutMs: 1_000 });
    clients.push(client);
    a.failNext(1, { endpoint: 'json', status: 200, contentType: 'text/json', body: '{"status":"STANDBY"}' });
    expect((await client.masterState()).webUiUrl).toBe(b.uiUrl);
    for (const body of ['{"status":"ALIVE"}', '{"activedrivers":[]}']) {
      a.failNext(1, { endpoint: 'json', status: 200, contentType: 'text/json', body });
      const e = await caught(client.masterState());
      expect(e).toBeInstanceOf(SparkMalformedStateError);
      expect(e.message).toMatch(new RegExp(`^Spark master 127\\.0\\.0\\.1:${a.uiPort} answered GET /json/ with an unexpected document: `));
      expect(client.aliveHost).toBeUndefined();
    }
    // An HTTP error page is no answer (as a master that is down): the other one decides.
    a.failNext(1, { endpoint: 'json', status: 502 });
    expect((await client.masterState()).webUiUrl).toBe(b.uiUrl);
  });
});
