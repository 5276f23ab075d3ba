/**
 * Protocol conformance of the Spark master simulator (SPARK_PROTOCOL.md), over real HTTP.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { SparkMasterSimulator, jacksonPretty, javaDateString, type MasterSimulatorOptions } from './master-simulator.js';

const agent = new Agent({ headersTimeout: 2_000, bodyTimeout: 2_000, connect: { timeout: 2_000 } });
afterAll(() => agent.close());

const T0 = Date.UTC(2024, 0, 1, 12, 5, 1, 234); // Mon Jan 01 12:05:01.234 UTC 2024

let sims: SparkMasterSimulator[] = [];
afterEach(async () => {
  await Promise.all(sims.map((s) => s.stop()));
  sims = [];
});

async function startSim(opts: MasterSimulatorOptions = {}): Promise<SparkMasterSimulator> {
  const sim = new SparkMasterSimulator({ killDelayMs: null, ...opts });
  sims.push(sim);
  return sim.start();
}

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: () => Record<string, unknown>;
}

async function http(url: string, method: 'GET' | 'POST' | 'PUT' = 'GET', body?: string): Promise<Res> {
  const res = await request(url, { dispatcher: agent, method, body: body ?? null, headers: body ? { 'content-type': 'application/json' } : {} });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

function createBody(overrides: Record<string, unknown> = {}, props: Record<string, string> = {}): string {
  return JSON.stringify({
    action: 'CreateSubmissionRequest',
    clientSparkVersion: '3.5.1',
    appResource: 'hdfs:///jobs/app.jar',
    mainClass: 'com.example.Main',
    appArgs: ['--date', '2024-01-01'],
    environmentVariables: {},
    sparkProperties: { 'spark.app.name': 'MyJob', 'spark.submit.deployMode': 'cluster', ...props },
    ...overrides,
  });
}

const create = (sim: SparkMasterSimulator, overrides?: Record<string, unknown>, props?: Record<string, string>) =>
  http(`${sim.restUrl}/v1/submissions/create`, 'POST', createBody(overrides, props));
const kill = (sim: SparkMasterSimulator, id: string) => http(`${sim.restUrl}/v1/submissions/kill/${encodeURIComponent(id)}`, 'POST');
const status = (sim: SparkMasterSimulator, id: string) => http(`${sim.restUrl}/v1/submissions/status/${encodeURIComponent(id)}`);
const state = async (sim: SparkMasterSimulator) => (await http(`${sim.uiUrl}/json/`)).json();
type JDriver = Record<string, unknown>;
const active = async (sim: SparkMasterSimulator) => (await state(sim)).activedrivers as JDriver[];
const completed = async (sim: SparkMasterSimulator) => (await state(sim)).completeddrivers as JDriver[];

async function waitFor(cond: () => Promise<boolean> | boolean, ms = 2_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('GET /json/ (web UI)', () => {
  it('serves the full document as pretty-printed text/json with the field order of writeMasterState', async () => {
    const sim = await startSim({ now: () => T0 });
    const res = await http(`${sim.uiUrl}/json/`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/json;charset=utf-8');
    expect(res.text.startsWith('{\n  "url" : "spark://127.0.0.1:7077",\n  "workers" : [ {\n    "id" : "worker-')).toBe(true);
    const doc = res.json();
    expect(Object.keys(doc)).toEqual([
      'url',
      'workers',
      'aliveworkers',
      'cores',
      'coresused',
      'memory',
      'memoryused',
      'resources',
      'resourcesused',
      'activeapps',
      'completedapps',
      'activedrivers',
      'completeddrivers',
      'status',
    ]);
    expect(doc).toMatchObject({ aliveworkers: 2, cores: 8, coresused: 0, memory: 16384, memoryused: 0, activeapps: [], completedapps: [], status: 'ALIVE' });
    const w = (doc.workers as Record<string, unknown>[])[0]!;
    expect(Object.keys(w)).toEqual([
      'id',
      'host',
      'port',
      'webuiaddress',
      'cores',
      'coresused',
      'coresfree',
      'memory',
      'memoryused',
      'memoryfree',
      'resources',
      'resourcesused',
      'resourcesfree',
      'state',
      'lastheartbeat',
    ]);
    expect(w.id).toMatch(/^worker-20240101120501-10\.0\.0\.1-35001$/);
    expect(w.lastheartbeat).toBe(T0);
    // every path under /json/ answers the full document (3.x)
    expect(Object.keys((await http(`${sim.uiUrl}/json/activedrivers`)).json())).toHaveLength(14);
  });

  it('redirects /json to /json/ and answers 405 to other methods', async () => {
    const sim = await startSim();
    const res = await http(`${sim.uiUrl}/json`);
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe(`${sim.uiUrl}/json/`);
    expect((await http(`${sim.uiUrl}/json/`, 'POST', '{}')).status).toBe(405);
    // the master page is the UI's root servlet: real Spark answers it for any other path
    expect((await http(`${sim.uiUrl}/nope`)).status).toBe(200);
  });

  it('writes drivers as writeDriverInfo: starttime string, worker "None", submitdate Date string, mainclass', async () => {
    const sim = await startSim({ now: () => T0, workers: [{ cores: 1, memoryMb: 1024 }] });
    const a = (await create(sim)).json();
    const b = (await create(sim)).json();
    expect(a.submissionId).toBe('driver-20240101120501-0000');
    expect(b.submissionId).toBe('driver-20240101120501-0001');
    const drivers = await active(sim);
    expect(drivers.map((d) => Object.keys(d))[0]).toEqual(['id', 'starttime', 'state', 'cores', 'memory', 'resources', 'submitdate', 'worker', 'mainclass']);
    expect(drivers[0]).toEqual({
      id: 'driver-20240101120501-0000',
      starttime: String(T0),
      state: 'RUNNING',
      cores: 1,
      memory: 1024,
      resources: {},
      submitdate: 'Mon Jan 01 12:05:01 UTC 2024',
      worker: sim.workers()[0]!.id,
      mainclass: 'com.example.Main',
    });
    // the second one does not fit: it waits as SUBMITTED, worker "None" (never null)
    expect(drivers[1]).toMatchObject({ id: 'driver-20240101120501-0001', state: 'SUBMITTED', worker: 'None' });
    expect(javaDateString(Date.UTC(2023, 11, 31, 23, 59, 59))).toBe('Sun Dec 31 23:59:59 UTC 2023');
  });
});

describe('driver lifecycle (§3, §5)', () => {
  it('SUBMITTED until a worker with enough free cores and memory takes it, then RUNNING', async () => {
    const sim = await startSim({ workers: [{ cores: 1, memoryMb: 4096 }] });
    const id = (await create(sim, {}, { 'spark.driver.cores': '2', 'spark.driver.memory': '2g' })).json().submissionId as string;
    expect((await active(sim))[0]).toMatchObject({ id, state: 'SUBMITTED', worker: 'None', cores: 2, memory: 2048 });
    const wid = sim.addWorker({ cores: 2, memoryMb: 1024 }); // enough cores, not enough memory
    expect((await active(sim))[0]).toMatchObject({ state: 'SUBMITTED' });
    const wid2 = sim.addWorker({ cores: 4, memoryMb: 4096 });
    expect(wid).not.toBe(wid2);
    expect((await active(sim))[0]).toMatchObject({ id, state: 'RUNNING', worker: wid2 });
    expect((await state(sim)).coresused).toBe(2);
  });

  it('launch delay: a new driver stays SUBMITTED for launchDelayMs, then RUNNING', async () => {
    const sim = await startSim({ launchDelayMs: 300 });
    const id = (await create(sim)).json().submissionId as string;
    expect(sim.getDriver(id)?.state).toBe('SUBMITTED');
    expect((await status(sim, id)).json()).not.toHaveProperty('workerId');
    expect((await active(sim))[0]).toMatchObject({ state: 'SUBMITTED', worker: 'None' });
    await waitFor(async () => (await active(sim))[0]?.state === 'RUNNING');
  });

  it('kill of a SUBMITTED driver is immediate: KILLED in completeddrivers with worker "None"', async () => {
    const sim = await startSim({ workers: [] });
    const id = (await create(sim)).json().submissionId as string;
    const res = (await kill(sim, id)).json();
    expect(res).toMatchObject({ success: true, message: `Kill request for ${id} submitted` });
    expect(await active(sim)).toEqual([]);
    expect(await completed(sim)).toMatchObject([{ id, state: 'KILLED', worker: 'None' }]);
  });

  it('kill of a RUNNING driver is asynchronous: RUNNING in activedrivers first, KILLED later keeping the worker id', async () => {
    const sim = await startSim({ killDelayMs: null });
    const id = (await create(sim)).json().submissionId as string;
    const worker = (await active(sim))[0]!.worker;
    expect((await kill(sim, id)).json()).toMatchObject({ success: true });
    expect(await active(sim)).toMatchObject([{ id, state: 'RUNNING', worker }]);
    expect((await kill(sim, id)).json()).toMatchObject({ success: true }); // still in the active set
    expect(sim.finishPendingKills()).toEqual([id]);
    expect(await active(sim)).toEqual([]);
    expect(await completed(sim)).toMatchObject([{ id, state: 'KILLED', worker }]);
    expect((await state(sim)).coresused).toBe(0);
    // now it is gone from the active set
    expect((await kill(sim, id)).json()).toMatchObject({ success: false, message: `Driver ${id} has already finished or does not exist` });
    expect(sim.killRequests.map((k) => k.accepted)).toEqual([true, true, false]);
  });

  it('timed kill completes after killDelayMs', async () => {
    const sim = await startSim({ killDelayMs: 300 });
    const id = (await create(sim)).json().submissionId as string;
    await kill(sim, id);
    expect(sim.getDriver(id)?.state).toBe('RUNNING');
    await waitFor(async () => (await completed(sim))[0]?.state === 'KILLED');
  });

  it('killDriverProcess moves the driver to completeddrivers with the given state; SUBMITTED waiters take the freed worker', async () => {
    const sim = await startSim({ workers: [{ cores: 1, memoryMb: 1024 }] });
    const a = (await create(sim)).json().submissionId as string;
    const b = (await create(sim)).json().submissionId as string;
    sim.killDriverProcess(a, 'FAILED');
    expect(await completed(sim)).toMatchObject([{ id: a, state: 'FAILED' }]);
    expect(await active(sim)).toMatchObject([{ id: b, state: 'RUNNING' }]);
    sim.killDriverProcess(b, 'ERROR');
    const st = (await status(sim, b)).json();
    expect(st).toMatchObject({ success: true, driverState: 'ERROR' });
    expect(st.message).toMatch(/^Exception from the cluster:\njava\.io\.IOException: /);
    // with respectSupervise a supervised FAILED driver is restarted in place by its worker
    const c = (await create(sim, {}, { 'spark.driver.supervise': 'true' })).json().submissionId as string;
    expect(sim.killDriverProcess(c, 'FAILED', { respectSupervise: true })).toBe('restarted');
    expect(await active(sim)).toMatchObject([{ id: c, state: 'RUNNING' }]);
  });

  it('worker loss: supervised → old id RELAUNCHING in completed + new id in active; others → ERROR', async () => {
    const sim = await startSim({
      workers: [
        { cores: 2, memoryMb: 4096 },
        { cores: 2, memoryMb: 4096 },
      ],
    });
    const sup = (await create(sim, { mainClass: 'com.example.Sup' }, { 'spark.driver.supervise': 'true' })).json().submissionId as string;
    const plain = (await create(sim, { mainClass: 'com.example.Plain' })).json().submissionId as string;
    const w0 = sim.workers()[0]!;
    expect(w0.driverIds).toEqual([sup, plain]);
    const [replacement] = sim.loseWorker(w0.id);
    const doc = await state(sim);
    expect(doc.aliveworkers).toBe(1);
    expect(doc.cores).toBe(2);
    expect((doc.workers as Record<string, unknown>[]).find((w) => w.id === w0.id)?.state).toBe('DEAD');
    expect(doc.completeddrivers).toMatchObject([
      { id: sup, state: 'RELAUNCHING', worker: w0.id },
      { id: plain, state: 'ERROR', worker: w0.id },
    ]);
    expect(replacement).toMatch(/^driver-\d{14}-0002$/);
    expect(doc.activedrivers).toMatchObject([{ id: replacement, state: 'RUNNING', mainclass: 'com.example.Sup', worker: sim.workers()[1]!.id }]);
    expect((doc.activedrivers as JDriver[]).some((d) => d.state === 'RELAUNCHING')).toBe(false);
    expect((await status(sim, sup)).json()).toMatchObject({ success: true, driverState: 'RELAUNCHING' });
  });

  it('completeddrivers: oldest first, capped at 200, dropping the oldest 20 when full', async () => {
    const sim = await startSim({ workers: [] });
    const ids: string[] = [];
    for (let i = 0; i < 201; i++) ids.push(sim.addDriverByHand({ mainClass: 'com.example.Main' }));
    for (let i = 0; i < 200; i++) await kill(sim, ids[i]!);
    let done = await completed(sim);
    expect(done).toHaveLength(200);
    expect(done.map((d) => d.id)).toEqual(ids.slice(0, 200));
    await kill(sim, ids[200]!);
    done = await completed(sim);
    expect(done).toHaveLength(181);
    expect(done[0]!.id).toBe(ids[20]);
    expect(done[180]!.id).toBe(ids[200]);
    expect((await status(sim, ids[0]!)).json()).toMatchObject({ success: false }); // trimmed
  });

  it('addDriverByHand: a driver submitted by someone else shows in /json/', async () => {
    const sim = await startSim();
    const id = sim.addDriverByHand({ mainClass: 'com.other.Job', cores: 2, memoryMb: 2048 });
    expect(await active(sim)).toMatchObject([{ id, mainclass: 'com.other.Job', cores: 2, memory: 2048, state: 'RUNNING' }]);
    expect(sim.createRequests).toHaveLength(0);
  });
});

describe('REST submission server (§4)', () => {
  it('create: Jackson layout (sorted keys, nulls omitted, " : "), application/json, serverSparkVersion', async () => {
    const sim = await startSim({ now: () => T0 });
    const res = await create(sim);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json;charset=utf-8');
    expect(res.text).toBe(
      '{\n' +
        '  "action" : "CreateSubmissionResponse",\n' +
        '  "message" : "Driver successfully submitted as driver-20240101120501-0000",\n' +
        '  "serverSparkVersion" : "3.5.1",\n' +
        '  "submissionId" : "driver-20240101120501-0000",\n' +
        '  "success" : true\n' +
        '}',
    );
    expect(sim.createRequests).toHaveLength(1);
    expect(sim.createRequests[0]!.body).toMatchObject({ mainClass: 'com.example.Main' });
    expect(sim.getDriver('driver-20240101120501-0000')?.appArgs).toEqual(['--date', '2024-01-01']);
  });

  it('create echoes unknown fields in unknownFields', async () => {
    const sim = await startSim();
    const res = (await create(sim, { foo: 1, bar: { x: 1 } })).json();
    expect(res.unknownFields).toEqual(['foo', 'bar']);
    expect(res.success).toBe(true);
  });

  it('status: found RUNNING with workerId/workerHostPort; SUBMITTED without them; unknown → success:false', async () => {
    const sim = await startSim({ workers: [{ cores: 1, memoryMb: 1024, host: '10.1.2.3', port: 4040 }] });
    const a = (await create(sim)).json().submissionId as string;
    const b = (await create(sim)).json().submissionId as string;
    const ra = await status(sim, a);
    expect(ra.text).toBe(
      '{\n' +
        '  "action" : "SubmissionStatusResponse",\n' +
        '  "driverState" : "RUNNING",\n' +
        '  "serverSparkVersion" : "3.5.1",\n' +
        `  "submissionId" : "${a}",\n` +
        '  "success" : true,\n' +
        '  "workerHostPort" : "10.1.2.3:4040",\n' +
        `  "workerId" : "${sim.workers()[0]!.id}"\n` +
        '}',
    );
    expect(Object.keys((await status(sim, b)).json())).toEqual(['action', 'driverState', 'serverSparkVersion', 'submissionId', 'success']);
    expect((await status(sim, 'driver-nope')).json()).toEqual({
      action: 'SubmissionStatusResponse',
      serverSparkVersion: '3.5.1',
      submissionId: 'driver-nope',
      success: false,
    });
    // the id is the first path segment after status/
    expect((await http(`${sim.restUrl}/v1/submissions/status/${a}/extra`)).json()).toMatchObject({ submissionId: a, success: true });
  });

  it('3.x validation: missing appArgs/environmentVariables/sparkProperties/spark.app.name/appResource/clientSparkVersion → 400 generic message', async () => {
    const sim = await startSim();
    const cases: Record<string, unknown>[] = [
      { appArgs: undefined },
      { environmentVariables: undefined },
      { sparkProperties: undefined },
      { sparkProperties: { 'spark.driver.cores': '1' } },
      { appResource: undefined },
      { clientSparkVersion: undefined },
    ];
    for (const c of cases) {
      const res = await create(sim, c);
      expect(res.status).toBe(400);
      const body = res.json();
      expect(Object.keys(body)).toEqual(['action', 'message', 'serverSparkVersion']);
      expect(body.action).toBe('ErrorResponse');
      expect(body.message).toMatch(
        /^Malformed request: org\.apache\.spark\.deploy\.rest\.SubmitRestProtocolException: Validation of message CreateSubmissionRequest failed!\n\t/,
      );
      expect(body.message).not.toMatch(/appArgs|environmentVariables|spark\.app\.name/); // the cause is not in the body
    }
    const bad = await create(sim, {}, { 'spark.driver.memory': '2x' });
    expect(bad.status).toBe(400);
    expect(sim.activeDrivers()).toHaveLength(0);
  });

  it('missing mainClass → 400 "Main class is missing."', async () => {
    const sim = await startSim();
    const res = await create(sim, { mainClass: undefined });
    expect(res.status).toBe(400);
    expect(res.json().message).toMatch(/^Malformed request: org\.apache\.spark\.deploy\.rest\.SubmitRestMissingFieldException: Main class is missing\.\n/);
  });

  it('malformed bodies: bad JSON, empty, not an object, other action types, unknown action class, cores "1.5"', async () => {
    const sim = await startSim();
    const url = `${sim.restUrl}/v1/submissions/create`;
    const badJson = await http(url, 'POST', '{not json');
    expect(badJson.status).toBe(400);
    expect(badJson.json().message).toMatch(/^Malformed request: com\.fasterxml\.jackson\.core\.JsonParseException: /);
    expect((await http(url, 'POST', '')).status).toBe(400);
    expect((await http(url, 'POST', '[1,2]')).json().message).toMatch(/SubmitRestMissingFieldException: Action field not found in JSON:/);
    // another message type is validated first (a KillSubmissionResponse needs submissionId and success)
    const incomplete = await http(url, 'POST', '{"action":"KillSubmissionResponse","serverSparkVersion":"3.5.1"}');
    expect(incomplete.status).toBe(400);
    expect(incomplete.json().message).toMatch(/^Malformed request: .*Validation of message KillSubmissionResponse failed!/);
    const other = await http(url, 'POST', '{"action":"KillSubmissionResponse","serverSparkVersion":"3.5.1","submissionId":"x","success":true}');
    expect(other.status).toBe(400);
    expect(other.json().message).toBe('Received message of unexpected type KillSubmissionResponse.');
    const unknownClass = await http(url, 'POST', '{"action":"NoSuchMessage"}');
    expect(unknownClass.status).toBe(500);
    expect(unknownClass.headers['content-type']).toMatch(/^text\/html/);
    const fractional = await create(sim, {}, { 'spark.driver.cores': '1.5' });
    expect(fractional.status).toBe(500);
    expect(() => JSON.parse(fractional.text)).toThrow();
    expect(sim.createRequests.map((r) => r.status)).toEqual([400, 400, 400, 400, 400, 500, 500]);
  });

  it('ErrorServlet paths: 400 messages, 468 with highestProtocolVersion (also for /v1/foo)', async () => {
    const sim = await startSim();
    const suffix = ' Please submit requests through http://[host]:[port]/v1/submissions/...';
    const cases: [string, number, string][] = [
      ['/', 400, 'Missing protocol version.'],
      ['/v1', 400, 'Missing the /submissions prefix.'],
      ['/v1/submissions', 400, 'Missing an action: please specify one of /create, /kill, or /status.'],
      ['/v1/submissions/killall', 400, 'Missing an action: please specify one of /create, /kill, or /status.'],
      ['/v2/submissions/create', 468, "Unknown protocol version 'v2'."],
      ['/v1/foo', 468, "Unknown protocol version 'v1'."],
    ];
    for (const [path, code, msg] of cases) {
      const res = await http(`${sim.restUrl}${path}`, 'POST', '{}');
      expect(res.status, path).toBe(code);
      const body = res.json();
      expect(body.message, path).toBe(msg + suffix);
      if (code === 468) {
        expect(res.text).toBe(
          '{\n  "action" : "ErrorResponse",\n  "highestProtocolVersion" : "v1",\n' +
            `  "message" : ${JSON.stringify(msg + suffix)},\n  "serverSparkVersion" : "3.5.1"\n}`,
        );
      } else expect(body).not.toHaveProperty('highestProtocolVersion');
    }
  });

  it('missing ids → 400; wrong method on a real route → 405 (not JSON)', async () => {
    const sim = await startSim();
    for (const [path, method, msg] of [
      ['/v1/submissions/kill', 'POST', 'Submission ID is missing in kill request.'],
      ['/v1/submissions/kill/', 'POST', 'Submission ID is missing in kill request.'],
      ['/v1/submissions/status', 'GET', 'Submission ID is missing in status request.'],
      ['/v1/submissions/status/', 'GET', 'Submission ID is missing in status request.'],
    ] as const) {
      const res = await http(`${sim.restUrl}${path}`, method);
      expect(res.status, path).toBe(400);
      expect(res.json().message).toBe(msg);
    }
    for (const [path, method] of [
      ['/v1/submissions/create', 'GET'],
      ['/v1/submissions/status/x', 'POST'],
      ['/v1/submissions/kill/x', 'GET'],
      ['/v1/submissions/create', 'PUT'],
    ] as const) {
      const res = await http(`${sim.restUrl}${path}`, method);
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.text).toContain(`<title>Error 405 HTTP method ${method} is not supported by this URL</title>`);
    }
  });

  it('not ALIVE: 200 success:false with the exact messages; /json/ reports the status', async () => {
    const sim = await startSim({ status: 'STANDBY' });
    const res = await create(sim);
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({
      action: 'CreateSubmissionResponse',
      message: 'Current state is not alive: STANDBY. Can only accept driver submissions in ALIVE state.',
      serverSparkVersion: '3.5.1',
      success: false,
    });
    expect((await kill(sim, 'driver-x')).json()).toMatchObject({
      success: false,
      message: 'Current state is not alive: STANDBY. Can only kill drivers in ALIVE state.',
    });
    const st = (await status(sim, 'driver-x')).json();
    expect(st.success).toBe(false);
    expect(st.message).toMatch(
      /^Exception from the cluster:\njava\.lang\.Exception: Current state is not alive: STANDBY\. Can only request driver status in ALIVE state\.\n\t/,
    );
    expect(st).not.toHaveProperty('driverState');
    expect((await state(sim)).status).toBe('STANDBY');
    sim.setStatus('RECOVERING');
    expect((await create(sim)).json().message).toBe('Current state is not alive: RECOVERING. Can only accept driver submissions in ALIVE state.');
    sim.setStatus('ALIVE');
    expect((await create(sim)).json().success).toBe(true);
  });
});

describe('fault injection', () => {
  it('failNext answers a Jetty-like error page (or a given body) to the chosen endpoint, n times', async () => {
    const sim = await startSim();
    sim.failNext(2, { endpoint: 'create' });
    expect((await http(`${sim.uiUrl}/json/`)).status).toBe(200);
    for (let i = 0; i < 2; i++) {
      const res = await create(sim);
      expect(res.status).toBe(500);
      expect(res.text).toContain('<title>Error 500 Internal Server Error</title>');
    }
    expect(sim.activeDrivers()).toHaveLength(0);
    expect((await create(sim)).status).toBe(200);
    sim.failNext(1, { status: 503, body: 'busy', contentType: 'text/plain' });
    const res = await http(`${sim.uiUrl}/json/`);
    expect([res.status, res.text]).toEqual([503, 'busy']);
    // processFirst: the driver is created, the answer is a failure
    sim.failNext(1, { endpoint: 'create', processFirst: true });
    expect((await create(sim)).status).toBe(500);
    expect(sim.activeDrivers()).toHaveLength(2);
  });

  it('dropNext destroys the connection without an answer', async () => {
    const sim = await startSim();
    sim.dropNext(1, 'json');
    await expect(http(`${sim.uiUrl}/json/`)).rejects.toThrow();
    expect((await http(`${sim.uiUrl}/json/`)).status).toBe(200);
    expect(sim.requests.map((r) => r.status)).toEqual([0, 200]);
  });

  it('refuseConnections closes the listeners (ECONNREFUSED) and listens again on the same ports', async () => {
    const sim = await startSim();
    const { uiPort, restPort } = sim;
    await http(`${sim.uiUrl}/json/`); // leaves a keep-alive connection open
    await sim.refuseConnections(true);
    await expect(http(`${sim.uiUrl}/json/`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await expect(status(sim, 'x')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await sim.refuseConnections(false);
    expect([sim.uiPort, sim.restPort]).toEqual([uiPort, restPort]);
    expect((await http(`${sim.uiUrl}/json/`)).status).toBe(200);
  });

  it('delayResponses slows every answer', async () => {
    const sim = await startSim();
    sim.delayResponses(60);
    const t = Date.now();
    await http(`${sim.uiUrl}/json/`);
    expect(Date.now() - t).toBeGreaterThanOrEqual(55);
    sim.delayResponses(0);
  });

  it('holdNext keeps a request unanswered (reported when it arrives) until released; processFirst sends the late answer', async () => {
    const seen: { endpoint: string; status: number; held?: boolean; submissionId?: string | undefined }[] = [];
    const sim = await startSim({
      onRequest: (r, c) =>
        seen.push({ endpoint: r.endpoint, status: r.status, ...(r.held ? { held: true } : {}), ...(c ? { submissionId: c.submissionId } : {}) }),
    });
    sim.holdNext(1, 'create');
    const dropped = create(sim).catch((e: unknown) => e);
    await waitFor(() => seen.length === 1);
    expect(seen).toEqual([{ endpoint: 'create', status: 0, held: true }]);
    expect(sim.activeDrivers()).toEqual([]); // not carried out
    await new Promise((r) => setTimeout(r, 50));
    sim.releaseHeld(true); // nothing to answer: the connection is destroyed
    expect(await dropped).toBeInstanceOf(Error);

    sim.holdNext(1, 'create', { processFirst: true });
    const late = create(sim);
    await waitFor(() => seen.length === 2);
    const [driver] = sim.activeDrivers();
    expect(seen[1]).toEqual({ endpoint: 'create', status: 0, held: true, submissionId: driver!.id });
    sim.releaseHeld(true);
    const res = await late;
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ success: true, submissionId: driver!.id });
    expect(seen[2]).toEqual({ endpoint: 'create', status: 200, submissionId: driver!.id });
  });

  it('stop() closes keep-alive connections and pending delays promptly', async () => {
    const sim = await startSim();
    await http(`${sim.uiUrl}/json/`);
    sim.delayResponses(10_000);
    const pending = http(`${sim.uiUrl}/json/`).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 20));
    const t = Date.now();
    await sim.stop();
    expect(Date.now() - t).toBeLessThan(500);
    expect(await pending).toBeInstanceOf(Error);
  });
});

describe('jacksonPretty', () => {
  it('matches the Jackson DefaultPrettyPrinter layout', () => {
    expect(jacksonPretty({ b: [1, 2], a: [], c: {}, d: [{ x: 1 }, { y: null }] })).toBe(
      '{\n  "b" : [ 1, 2 ],\n  "a" : [ ],\n  "c" : { },\n  "d" : [ {\n    "x" : 1\n  }, {\n    "y" : null\n  } ]\n}',
    );
    expect(jacksonPretty({ b: 1, a: null, c: undefined }, true)).toBe('{\n  "b" : 1\n}');
  });
});
