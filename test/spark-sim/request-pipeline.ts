/**
 * What happens to one request the simulator receives: it is read, takes the next fault rule for
 * its endpoint (if any) and the response delay, gets the master's answer (the web UI's or a REST
 * servlet's) unless a fault replaces it, and is recorded, logged and reported when it is
 * answered, dropped or held.
 */
import type http from 'node:http';
import type { FaultInjector } from './fault-injection.js';
import { readBody, type ServerKind } from './http-shell.js';
import type { Answer } from './jetty.js';
import { routeRest, type RestRoute } from './rest-servlets.js';
import type { SimTimers } from './timers.js';
import type { MasterSimulatorOptions, SimCreateRecord, SimEndpoint, SimRequestRecord } from './types.js';

export interface PipelineDeps {
  now: () => number;
  timers: SimTimers;
  faults: FaultInjector;
  sparkVersion: string;
  /** The simulator's public lists: every request, and every create the REST server recorded. */
  requests: SimRequestRecord[];
  createRequests: SimCreateRecord[];
  log: ((line: string) => void) | undefined;
  onRequest: MasterSimulatorOptions['onRequest'];
  answerUi(method: string, pathname: string, req: http.IncomingMessage): Answer;
  answerRest(method: string, pathname: string, route: RestRoute, body: string): Answer;
}

export class RequestPipeline {
  constructor(private readonly deps: PipelineDeps) {}

  async handle(kind: ServerKind, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const { deps } = this;
    const started = Date.now();
    const method = req.method ?? 'GET';
    const rawPath = req.url ?? '/';
    const pathname = rawPath.split('?')[0] ?? '/';
    const route = kind === 'ui' ? null : routeRest(pathname);
    const endpoint: SimEndpoint | 'other' = kind === 'ui' ? 'json' : route?.servlet === 'error' ? 'other' : (route?.servlet ?? 'other');
    const body = await readBody(req);

    const record = (status: number, held = false) => {
      const rec: SimRequestRecord = {
        at: deps.now(),
        server: kind,
        method,
        path: rawPath,
        endpoint,
        status,
        durationMs: Date.now() - started,
      };
      deps.requests.push(rec);
      deps.log?.(
        `${new Date().toISOString()} ${kind === 'ui' ? 'ui  ' : 'rest'} ${method} ${rawPath} -> ${held ? 'HELD (no answer)' : status === 0 ? 'DROPPED' : status} (${rec.durationMs} ms)`,
      );
      deps.onRequest?.(held ? { ...rec, held } : rec, createRecord);
    };
    let createRecord: SimCreateRecord | undefined;

    const fault = deps.faults.take(endpoint);
    if (deps.faults.responseDelayMs > 0) {
      await deps.timers.sleep(deps.faults.responseDelayMs);
      if (deps.timers.stopped) {
        res.destroy();
        return;
      }
    }

    let answer: Answer;
    if (fault && !fault.processFirst) {
      answer = { status: 0, headers: {}, body: '' };
    } else {
      const createsBefore = deps.createRequests.length;
      answer = kind === 'ui' ? deps.answerUi(method, pathname, req) : deps.answerRest(method, pathname, route!, body);
      if (deps.createRequests.length > createsBefore) createRecord = deps.createRequests.at(-1);
    }
    if (fault?.kind === 'hold') {
      record(0, true);
      const send = deps.timers.stopped ? false : await deps.faults.hold();
      if (!send || !fault.processFirst || deps.timers.stopped) {
        req.socket.destroy();
        return;
      }
    }
    if (fault?.kind === 'drop') {
      record(0);
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'fail') answer = deps.faults.failureAnswer(fault, pathname, body, deps.sparkVersion);
    record(answer.status);
    res.writeHead(answer.status, { ...answer.headers, 'content-length': Buffer.byteLength(answer.body) });
    res.end(method === 'HEAD' ? undefined : answer.body);
  }
}
