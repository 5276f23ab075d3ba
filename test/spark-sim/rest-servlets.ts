/**
 * The master's REST submission server (RestSubmissionServer and the Standalone*RequestServlets):
 * which servlet a path goes to, and the create, kill and status answers (ErrorServlet's for any
 * other path), as Spark 3.x writes them.
 */
import { BACKUP_STANDALONE_MASTER_PREFIX, type SimCluster } from './cluster.js';
import { InternalError, MalformedRequest, readCreateRequest } from './create-request.js';
import { formatException, jacksonPretty } from './java-formats.js';
import { jettyAnswer, methodNotAllowed, SERVLET_NAMES, type Answer } from './jetty.js';
import type { SimCreateRecord, SimKillRecord } from './types.js';

const PROTOCOL_VERSION = 'v1';
const SC_UNKNOWN_PROTOCOL_VERSION = 468;
const MASTER_FRAMES = [
  'org.apache.spark.deploy.master.Master$$anonfun$receiveAndReply$1.applyOrElse(Master.scala:487)',
  'org.apache.spark.rpc.netty.Inbox.$anonfun$process$1(Inbox.scala:103)',
  'org.apache.spark.rpc.netty.Inbox.safelyCall(Inbox.scala:213)',
];

export type RestRoute = { servlet: 'create' | 'kill' | 'status'; pathInfo: string | null } | { servlet: 'error'; parts: string[] };

/** Servlet mapping of RestSubmissionServer: `/v1/submissions/{create,kill,status}/*`, else ErrorServlet. */
export function routeRest(pathname: string): RestRoute {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    decoded = pathname;
  }
  for (const servlet of ['create', 'kill', 'status'] as const) {
    const prefix = `/${PROTOCOL_VERSION}/submissions/${servlet}`;
    if (decoded === prefix) return { servlet, pathInfo: null };
    if (decoded.startsWith(`${prefix}/`)) return { servlet, pathInfo: decoded.slice(prefix.length) };
  }
  return { servlet: 'error', parts: decoded.split('/').filter((p) => p !== '') };
}

function parseSubmissionId(pathInfo: string | null): string | undefined {
  if (pathInfo === null || pathInfo === '') return undefined;
  const head = pathInfo.replace(/^\//, '').split('/')[0];
  return head === undefined || head === '' ? undefined : head;
}

/** A REST protocol message as the server writes it (Jackson, NON_NULL, keys sorted). */
export function restAnswer(status: number, message: Record<string, unknown>): Answer {
  return { status, headers: { 'content-type': 'application/json;charset=utf-8' }, body: jacksonPretty(message, true) };
}

export function errorResponse(sparkVersion: string, message: string): Record<string, unknown> {
  return { action: 'ErrorResponse', message, serverSparkVersion: sparkVersion };
}

/** Where the servlets record what reached them (the simulator's public request lists). */
export interface RestRecords {
  createRequests: SimCreateRecord[];
  killRequests: SimKillRecord[];
  statusRequests: { at: number; id: string }[];
}

export class RestServlets {
  constructor(
    private readonly cluster: SimCluster,
    private readonly sparkVersion: string,
    private readonly records: RestRecords,
  ) {}

  answer(method: string, pathname: string, route: RestRoute, body: string): Answer {
    switch (route.servlet) {
      case 'error':
        return this.errorServlet(route.parts);
      case 'create':
        if (method !== 'POST') return methodNotAllowed(method, pathname, 'create');
        return this.createServlet(body);
      case 'kill': {
        if (method !== 'POST') return methodNotAllowed(method, pathname, 'kill');
        const id = parseSubmissionId(route.pathInfo);
        if (id === undefined) return restAnswer(400, this.errorResponse('Submission ID is missing in kill request.'));
        const r = this.cluster.requestKill(id);
        this.records.killRequests.push({ at: this.cluster.now(), id, accepted: r.success });
        return restAnswer(200, {
          action: 'KillSubmissionResponse',
          message: r.message,
          serverSparkVersion: this.sparkVersion,
          submissionId: id,
          success: r.success,
        });
      }
      case 'status': {
        if (method !== 'GET' && method !== 'HEAD') return methodNotAllowed(method, pathname, 'status');
        const id = parseSubmissionId(route.pathInfo);
        if (id === undefined) return restAnswer(400, this.errorResponse('Submission ID is missing in status request.'));
        this.records.statusRequests.push({ at: this.cluster.now(), id });
        return restAnswer(200, this.statusResponse(id));
      }
    }
  }

  private statusResponse(id: string): Record<string, unknown> {
    const base = { action: 'SubmissionStatusResponse', serverSparkVersion: this.sparkVersion, submissionId: id };
    if (this.cluster.status !== 'ALIVE') {
      const e = formatException(
        'java.lang.Exception',
        `${BACKUP_STANDALONE_MASTER_PREFIX}: ${this.cluster.status}. Can only request driver status in ALIVE state.`,
        MASTER_FRAMES,
      );
      return { ...base, success: false, message: `Exception from the cluster:\n${e}` };
    }
    const d = this.cluster.findDriver(id);
    if (!d) return { ...base, success: false };
    return {
      ...base,
      success: true,
      driverState: d.state,
      workerId: d.worker?.id,
      workerHostPort: d.worker ? `${d.worker.host}:${d.worker.port}` : undefined,
      message: d.exception ? `Exception from the cluster:\n${d.exception}` : undefined,
    };
  }

  private createServlet(raw: string): Answer {
    const rec: SimCreateRecord = { at: this.cluster.now(), raw, body: undefined, status: 0 };
    this.records.createRequests.push(rec);
    let answer: Answer;
    try {
      answer = this.createSubmission(raw, rec);
    } catch (e) {
      if (e instanceof MalformedRequest) {
        answer = restAnswer(400, this.errorResponse(`Malformed request: ${e.formatted}`));
      } else if (e instanceof InternalError) {
        // Jetty's page for an exception the servlet did not catch: its text and stack trace
        answer = jettyAnswer(500, '/v1/submissions/create', e.message, SERVLET_NAMES.create, `${e.message}\n${e.frames.map((f) => `\tat ${f}`).join('\n')}`);
      } else throw e;
    }
    rec.status = answer.status;
    return answer;
  }

  /** StandaloneSubmitRequestServlet.handleSubmit, then Master.RequestSubmitDriver. */
  private createSubmission(raw: string, rec: SimCreateRecord): Answer {
    const request = readCreateRequest(raw, rec);
    if ('unexpectedType' in request) return restAnswer(400, this.errorResponse(`Received message of unexpected type ${request.unexpectedType}.`));
    const response: Record<string, unknown> = {
      action: 'CreateSubmissionResponse',
      serverSparkVersion: this.sparkVersion,
      unknownFields: request.unknownFields.length > 0 ? request.unknownFields : undefined,
    };
    if (this.cluster.status !== 'ALIVE') {
      response.success = false;
      response.message = `${BACKUP_STANDALONE_MASTER_PREFIX}: ${this.cluster.status}. Can only accept driver submissions in ALIVE state.`;
    } else {
      const d = this.cluster.submitDriver(request.desc);
      rec.submissionId = d.id;
      response.success = true;
      response.submissionId = d.id;
      response.message = `Driver successfully submitted as ${d.id}`;
    }
    return restAnswer(200, response);
  }

  private errorServlet(parts: string[]): Answer {
    let versionMismatch = false;
    let msg: string;
    if (parts.length === 0) msg = 'Missing protocol version.';
    else if (parts[0] === PROTOCOL_VERSION && parts.length === 1) msg = 'Missing the /submissions prefix.';
    else if (parts[0] === PROTOCOL_VERSION && parts[1] === 'submissions') {
      msg = 'Missing an action: please specify one of /create, /kill, or /status.';
    } else {
      versionMismatch = true;
      msg = `Unknown protocol version '${parts[0] ?? ''}'.`;
    }
    msg += ` Please submit requests through http://[host]:[port]/${PROTOCOL_VERSION}/submissions/...`;
    const error = this.errorResponse(msg);
    if (versionMismatch) {
      error.highestProtocolVersion = PROTOCOL_VERSION;
      return restAnswer(SC_UNKNOWN_PROTOCOL_VERSION, error);
    }
    return restAnswer(400, error);
  }

  private errorResponse(message: string): Record<string, unknown> {
    return errorResponse(this.sparkVersion, message);
  }
}
