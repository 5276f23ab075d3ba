/**
 * What tests make the master's HTTP side do beyond Spark: fail, drop or hold the next requests,
 * answer slowly. The rules wait here until a request to their endpoint takes them; the request
 * pipeline applies them.
 */
import { jettyAnswer, jettyHtmlAnswer, type Answer } from './jetty.js';
import { errorResponse, restAnswer } from './rest-servlets.js';
import type { DropNextOptions, FailNextOptions, HoldNextOptions, SimEndpoint } from './types.js';

export interface FaultRule {
  kind: 'fail' | 'drop' | 'hold';
  remaining: number;
  endpoint?: SimEndpoint;
  status: number;
  body?: string;
  contentType?: string;
  processFirst: boolean;
  echoRequest?: FailNextOptions['echoRequest'];
}

export class FaultInjector {
  /** Every answer waits this long first (0: none). */
  responseDelayMs = 0;
  private rules: FaultRule[] = [];
  /** Releases of the requests held by `holdNext` (true: send the answer, if there is one). */
  private readonly held = new Set<(answer: boolean) => void>();

  /** See `SparkMasterSimulator.failNext`. */
  failNext(n: number, opts: FailNextOptions = {}): void {
    this.rules.push({
      kind: 'fail',
      remaining: n,
      status: opts.status ?? 500,
      processFirst: opts.processFirst ?? false,
      ...(opts.endpoint !== undefined ? { endpoint: opts.endpoint } : {}),
      ...(opts.body !== undefined ? { body: opts.body } : {}),
      ...(opts.contentType !== undefined ? { contentType: opts.contentType } : {}),
      ...(opts.echoRequest !== undefined ? { echoRequest: opts.echoRequest } : {}),
    });
  }

  /** See `SparkMasterSimulator.dropNext`. */
  dropNext(n: number, endpoint?: SimEndpoint, opts: DropNextOptions = {}): void {
    this.addSilentRule('drop', n, endpoint, opts);
  }

  /** See `SparkMasterSimulator.holdNext`. */
  holdNext(n: number, endpoint?: SimEndpoint, opts: HoldNextOptions = {}): void {
    this.addSilentRule('hold', n, endpoint, opts);
  }

  /** Forgets the pending rules and the response delay (held requests stay held). */
  clear(): void {
    this.rules = [];
    this.responseDelayMs = 0;
  }

  /** The rule the request to `endpoint` takes, if any (each rule serves its `n` requests). */
  take(endpoint: SimEndpoint | 'other'): FaultRule | undefined {
    const rule = this.rules.find((f) => f.remaining > 0 && (f.endpoint === undefined || f.endpoint === endpoint));
    if (!rule) return undefined;
    rule.remaining--;
    if (rule.remaining <= 0) this.rules = this.rules.filter((f) => f !== rule);
    return rule;
  }

  /** Waits until `releaseHeld`: true when the held answer is to be sent. */
  hold(): Promise<boolean> {
    return new Promise<boolean>((resolve) => this.held.add(resolve));
  }

  /** See `SparkMasterSimulator.releaseHeld`. */
  releaseHeld(answer = false): void {
    const releases = [...this.held];
    this.held.clear();
    for (const release of releases) release(answer);
  }

  /** A rule whose requests get no answer (status 0 in the records). */
  private addSilentRule(kind: 'drop' | 'hold', n: number, endpoint: SimEndpoint | undefined, opts: DropNextOptions | HoldNextOptions): void {
    this.rules.push({
      kind,
      remaining: n,
      status: 0,
      processFirst: opts.processFirst ?? false,
      ...(endpoint !== undefined ? { endpoint } : {}),
    });
  }

  /** The answer a `fail` rule sends instead of the master's. */
  failureAnswer(rule: FaultRule, pathname: string, body: string, sparkVersion: string): Answer {
    if (rule.echoRequest) return echoAnswer(rule.echoRequest, rule.status, pathname, body, sparkVersion);
    return jettyHtmlAnswer(rule.status, rule.body ?? jettyAnswer(rule.status, pathname).body, rule.contentType);
  }
}

/** A failure answer that quotes the request body (see `FailNextOptions.echoRequest`). */
function echoAnswer(kind: 'json' | 'html' | 'rejected', status: number, pathname: string, body: string, sparkVersion: string): Answer {
  let quoted = body.replace(/\s*\n\s*/g, ' ');
  try {
    const { environmentVariables, sparkProperties, ...rest } = JSON.parse(body) as Record<string, unknown>;
    quoted = `environmentVariables=${JSON.stringify(environmentVariables)}, sparkProperties=${JSON.stringify(sparkProperties)}, ${JSON.stringify(rest)}`;
  } catch {
    // not JSON: quoted as it came
  }
  const message = `Malformed request: org.apache.spark.deploy.rest.SubmitRestProtocolException: Validation of message CreateSubmissionRequest failed! ${quoted}`;
  switch (kind) {
    case 'json':
      return restAnswer(status, errorResponse(sparkVersion, message));
    case 'html':
      // Jetty 9.4 writes the exception's message into the page's title as well as its table.
      return jettyAnswer(status, pathname, message);
    case 'rejected':
      return restAnswer(200, { action: 'CreateSubmissionResponse', message, serverSparkVersion: sparkVersion, success: false });
  }
}
