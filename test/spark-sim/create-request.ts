/**
 * Reading a CreateSubmissionRequest as Spark 3.x's REST server does: the JSON parse and
 * `action` lookup (SubmitRestProtocolMessage.fromJson), Jackson's deserialization, `validate()`
 * and buildDriverDescription, with the exceptions (and their messages) each step throws.
 */
import { DEFAULT_DRIVER_CORES, DEFAULT_DRIVER_MEMORY_MB, type DriverDesc } from './cluster.js';
import { formatException } from './java-formats.js';
import type { SimCreateRecord } from './types.js';

const REST_FRAMES = [
  'org.apache.spark.deploy.rest.SubmitRestProtocolMessage.validate(SubmitRestProtocolMessage.scala:75)',
  'org.apache.spark.deploy.rest.SubmitRequestServlet.doPost(RestSubmissionServer.scala:259)',
  'javax.servlet.http.HttpServlet.service(HttpServlet.java:523)',
  'javax.servlet.http.HttpServlet.service(HttpServlet.java:590)',
  'org.sparkproject.jetty.servlet.ServletHolder.handle(ServletHolder.java:799)',
];
const BUILD_FRAMES = [
  'org.apache.spark.deploy.rest.StandaloneSubmitRequestServlet.$anonfun$buildDriverDescription$2(StandaloneRestServer.scala:137)',
  'scala.Option.getOrElse(Option.scala:189)',
  'org.apache.spark.deploy.rest.StandaloneSubmitRequestServlet.buildDriverDescription(StandaloneRestServer.scala:137)',
  'org.apache.spark.deploy.rest.StandaloneSubmitRequestServlet.handleSubmit(StandaloneRestServer.scala:196)',
  'org.apache.spark.deploy.rest.SubmitRequestServlet.doPost(RestSubmissionServer.scala:260)',
];
const JACKSON_FRAMES = [
  'com.fasterxml.jackson.core.JsonParser._constructError(JsonParser.java:2477)',
  'com.fasterxml.jackson.core.base.ParserMinimalBase._reportError(ParserMinimalBase.java:760)',
  'org.json4s.jackson.JsonMethods.parse(JsonMethods.scala:33)',
  'org.apache.spark.deploy.rest.SubmitRestProtocolMessage$.parseField(SubmitRestProtocolMessage.scala:143)',
];

/** A client error that Spark's servlet turns into 400 "Malformed request: ...". */
export class MalformedRequest extends Error {
  constructor(readonly formatted: string) {
    super('malformed');
  }
}
/** An uncaught exception that Jetty turns into its 500 error page. */
export class InternalError extends Error {
  constructor(
    message: string,
    readonly frames: string[] = ['org.apache.spark.deploy.rest.SubmitRequestServlet.doPost(RestSubmissionServer.scala:282)'],
  ) {
    super(message);
  }
}

/** A request a create servlet reads: the driver to submit, or a message of another (known) type. */
export type CreateRequest = { desc: DriverDesc; unknownFields: string[] } | { unexpectedType: string };

/**
 * The request body `raw` as the create servlet reads it (`rec.body` set once it parses); throws
 * MalformedRequest (a 400 answer) or InternalError (Jetty's 500 page) where Spark throws.
 */
export function readCreateRequest(raw: string, rec: SimCreateRecord): CreateRequest {
  // SubmitRestProtocolMessage.fromJson: parse, read `action`, pick the class.
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (e) {
    const msg =
      raw.trim() === ''
        ? formatException(
            'com.fasterxml.jackson.databind.exc.MismatchedInputException',
            'No content to map due to end-of-input\n at [Source: (String)""; line: 1, column: 0]',
            JACKSON_FRAMES,
          )
        : formatException(
            'com.fasterxml.jackson.core.JsonParseException',
            `${(e as Error).message}\n at [Source: (String)${JSON.stringify(raw.slice(0, 500))}; line: 1]`,
            JACKSON_FRAMES,
          );
    throw new MalformedRequest(msg);
  }
  rec.body = json;
  if (typeof json !== 'object' || json === null || Array.isArray(json) || typeof (json as Record<string, unknown>).action !== 'string') {
    throw new MalformedRequest(
      formatException('org.apache.spark.deploy.rest.SubmitRestMissingFieldException', `Action field not found in JSON:\n${raw}`, REST_FRAMES),
    );
  }
  const obj = json as Record<string, unknown>;
  const action = obj.action as string;
  const responseTypes = ['CreateSubmissionResponse', 'KillSubmissionResponse', 'SubmissionStatusResponse', 'ErrorResponse'];
  if (action !== 'CreateSubmissionRequest') {
    if (!responseTypes.includes(action)) {
      // Class.forName fails: ClassNotFoundException is not caught by the servlet.
      throw new InternalError(`java.lang.ClassNotFoundException: org.apache.spark.deploy.rest.${action}`, [
        'java.base/jdk.internal.loader.BuiltinClassLoader.loadClass(BuiltinClassLoader.java:641)',
        'org.apache.spark.deploy.rest.SubmitRestProtocolMessage$.fromJson(SubmitRestProtocolMessage.scala:131)',
        'org.apache.spark.deploy.rest.SubmitRequestServlet.doPost(RestSubmissionServer.scala:278)',
      ]);
    }
    // each response type's doValidate: serverSparkVersion plus its own required fields
    const required: Record<string, string[]> = {
      CreateSubmissionResponse: ['success'],
      KillSubmissionResponse: ['submissionId', 'success'],
      SubmissionStatusResponse: ['submissionId', 'success'],
      ErrorResponse: ['message'],
    };
    for (const f of ['serverSparkVersion', ...required[action]!]) {
      if (obj[f] === undefined || obj[f] === null) throw validationFailed(action);
    }
    return { unexpectedType: action };
  }

  // Jackson deserialization into CreateSubmissionRequest (unknown properties ignored).
  const clientSparkVersion = jString(obj, 'clientSparkVersion');
  const appResource = jString(obj, 'appResource');
  const mainClass = jString(obj, 'mainClass');
  const appArgs = jStringArray(obj, 'appArgs');
  const sparkProperties = jStringMap(obj, 'sparkProperties');
  const environmentVariables = jStringMap(obj, 'environmentVariables');

  // validate() (3.x): any failure becomes the generic "Validation of message ... failed!".
  const type = 'CreateSubmissionRequest';
  if (clientSparkVersion === null || sparkProperties === null || appResource === null) throw validationFailed(type);
  if (appArgs === null || environmentVariables === null) throw validationFailed(type);
  if (sparkProperties['spark.app.name'] === undefined) throw validationFailed(type);
  const prop = (k: string) => sparkProperties[k];
  const check = (k: string, ok: (v: string) => boolean) => {
    const v = prop(k);
    if (v !== undefined && !ok(v)) throw validationFailed(type);
  };
  check('spark.driver.supervise', isJavaBoolean);
  check('spark.driver.cores', isJavaDouble);
  check('spark.cores.max', isJavaDouble);
  const isMemory = (v: string) => {
    try {
      memoryStringToMb(v);
      return true;
    } catch {
      return false;
    }
  };
  check('spark.driver.memory', isMemory);
  check('spark.executor.memory', isMemory);

  // buildDriverDescription
  if (mainClass === null) {
    throw new MalformedRequest(formatException('org.apache.spark.deploy.rest.SubmitRestMissingFieldException', 'Main class is missing.', BUILD_FRAMES));
  }
  const coresProp = prop('spark.driver.cores');
  const memProp = prop('spark.driver.memory');
  const superviseProp = prop('spark.driver.supervise');
  const desc: DriverDesc = {
    mainClass,
    appResource,
    cores: coresProp === undefined ? DEFAULT_DRIVER_CORES : javaParseInt(coresProp),
    memoryMb: memProp === undefined ? DEFAULT_DRIVER_MEMORY_MB : memoryStringToMb(memProp),
    supervise: superviseProp === undefined ? false : superviseProp.toLowerCase() === 'true',
    appArgs: appArgs.map((a) => a ?? ''),
    sparkProperties: { ...sparkProperties },
  };

  // the fields Jackson does not know (or that are null) go back as `unknownFields`
  const known = new Set(['action', 'clientSparkVersion', 'appResource', 'mainClass', 'appArgs', 'sparkProperties', 'environmentVariables', 'message']);
  return { desc, unknownFields: Object.keys(obj).filter((k) => !known.has(k) || obj[k] === null) };
}

function validationFailed(type: string): MalformedRequest {
  return new MalformedRequest(
    formatException('org.apache.spark.deploy.rest.SubmitRestProtocolException', `Validation of message ${type} failed!`, REST_FRAMES),
  );
}

// ---------------------------------------------------------------- Jackson-like deserialization

function mismatch(javaType: string, v: unknown): MalformedRequest {
  const what = Array.isArray(v)
    ? 'Array value (token `JsonToken.START_ARRAY`)'
    : typeof v === 'object'
      ? 'Object value (token `JsonToken.START_OBJECT`)'
      : `${typeof v} value`;
  return new MalformedRequest(
    formatException(
      'com.fasterxml.jackson.databind.exc.MismatchedInputException',
      `Cannot deserialize value of type \`${javaType}\` from ${what}`,
      JACKSON_FRAMES,
    ),
  );
}

function scalarToString(v: unknown, javaType: string): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw mismatch(javaType, v);
}

function jString(obj: Record<string, unknown>, key: string): string | null {
  return scalarToString(obj[key], 'java.lang.String');
}

function jStringArray(obj: Record<string, unknown>, key: string): (string | null)[] | null {
  const v = obj[key];
  if (v === null || v === undefined) return null;
  if (!Array.isArray(v)) throw mismatch('[Ljava.lang.String;', v);
  return v.map((x) => scalarToString(x, 'java.lang.String'));
}

function jStringMap(obj: Record<string, unknown>, key: string): Record<string, string> | null {
  const v = obj[key];
  if (v === null || v === undefined) return null;
  if (typeof v !== 'object' || Array.isArray(v)) throw mismatch('scala.collection.immutable.Map', v);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    const s = scalarToString(x, 'java.lang.String');
    if (s !== null) out[k] = s;
  }
  return out;
}

// ---------------------------------------------------------------- Java-like value checks

function memoryStringToMb(value: string): number {
  // JavaUtils.byteStringAsBytes: no suffix means bytes.
  const lower = value.trim().toLowerCase();
  const m = /^([0-9]+)([a-z]+)?$/.exec(lower);
  if (!m) throw new Error(`Invalid memory string ${value}`);
  const units: Record<string, number> = {
    b: 1,
    k: 1024,
    kb: 1024,
    m: 1024 ** 2,
    mb: 1024 ** 2,
    g: 1024 ** 3,
    gb: 1024 ** 3,
    t: 1024 ** 4,
    tb: 1024 ** 4,
    p: 1024 ** 5,
    pb: 1024 ** 5,
  };
  const mult = m[2] === undefined ? 1 : units[m[2]];
  if (mult === undefined) throw new Error(`Invalid suffix ${m[2]}`);
  return Math.floor((Number(m[1]) * mult) / 1024 / 1024);
}

function isJavaDouble(value: string): boolean {
  const s = value.trim();
  if (s === '') return false;
  if (/^[+-]?(NaN|Infinity)$/.test(s)) return true;
  return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?[fFdD]?$/.test(s);
}

function isJavaBoolean(value: string): boolean {
  return /^(true|false)$/i.test(value);
}

const PARSE_INT_FRAMES = [
  'java.base/java.lang.NumberFormatException.forInputString(NumberFormatException.java:67)',
  'java.base/java.lang.Integer.parseInt(Integer.java:668)',
  'org.apache.spark.deploy.rest.StandaloneSubmitRequestServlet.buildDriverDescription(StandaloneRestServer.scala:183)',
];

function javaParseInt(value: string): number {
  if (!/^[+-]?\d+$/.test(value)) throw new InternalError(`java.lang.NumberFormatException: For input string: "${value}"`, PARSE_INT_FRAMES);
  const n = Number(value);
  if (n > 2147483647 || n < -2147483648) throw new InternalError(`java.lang.NumberFormatException: For input string: "${value}"`, PARSE_INT_FRAMES);
  return n;
}
