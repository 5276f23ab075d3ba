/**
 * The body of `POST /v1/submissions/create` for a tenant's streaming job: the request the
 * reference orchestrator builds (ds-horizon/logwise, orchestrator/…/service/SparkService.java,
 * `getSparkSubmitRequestBody`; constants from constant/ApplicationConstants.java), plus what
 * SPEC §4.2 adds. Pure: no I/O, no clock.
 *
 * The Spark job (logwise `spark/`, configs/ApplicationConfig.java) parses every app argument
 * with `ConfigFactory.parseString`, i.e. as one line of HOCON, over its own application.conf
 * (`kafka.startingOffsetsTimestamp = 0`, `s3.uri.scheme = "s3a://"`,
 * `s3.path.logs.application = ${s3.uri.scheme}${s3.bucket}"/"${s3.dir.logs}`). Values that may
 * hold `//` (a HOCON comment) or other special characters are therefore written quoted, as the
 * reference does for `kafka.subscribePattern` and `spark.master.host`.
 */
import type { TenantConfig } from '../config/schema.js';
import type { CreateSubmissionRequest } from './types.js';

export interface SubmissionOverrides {
  /** `spark.driver.cores` for this submission (a positive integer). */
  driverCores?: number;
  /** `spark.driver.memory` = `<n>G` for this submission (a positive integer). */
  driverMemoryInGb?: number;
}

export interface SubmissionRequestInput {
  tenant: TenantConfig;
  /** The master to submit to (the ALIVE one when `sparkMasterHost` lists several). */
  masterHost: string;
  overrides?: SubmissionOverrides;
  /** Epoch ms: a replay submission (`kafka.startingOffsetsTimestamp=…`). */
  startingOffsetsTimestamp?: number;
}

/** The reference's GC options (ApplicationConstants.SPARK_GC_JAVA_OPTIONS). */
export const SPARK_GC_JAVA_OPTIONS = '-XX:+UnlockExperimentalVMOptions -XX:+UseG1GC';
/** The reference's header name, passed to the job as an environment variable. */
export const TENANT_ENV_VAR = 'X-Tenant-Name';
export const DEFAULT_AWS_REGION = 'us-east-1';
export const REDACTED = '[redacted]';

const S3A_FILE_SYSTEM = 'org.apache.hadoop.fs.s3a.S3AFileSystem';
const SIMPLE_CREDENTIALS = 'org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider';
const TEMPORARY_CREDENTIALS = 'org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider';

export function buildSubmissionRequest(input: SubmissionRequestInput): CreateSubmissionRequest {
  const { tenant, masterHost, overrides = {}, startingOffsetsTimestamp } = input;
  const spark = tenant.spark;
  const host = masterHost.trim();
  if (host === '') throw new Error(`tenant ${tenant.name}: no Spark master host to submit to`);
  if (!tenant.kafka) {
    throw new Error(`tenant ${tenant.name}: kafka.kafkaBrokersHost is not configured; the Spark job needs it (kafka.cluster.dns)`);
  }
  const driverCores = positiveInteger(overrides.driverCores, 'driverCores');
  const driverMemoryInGb = positiveInteger(overrides.driverMemoryInGb, 'driverMemoryInGb');
  if (startingOffsetsTimestamp !== undefined && !(Number.isSafeInteger(startingOffsetsTimestamp) && startingOffsetsTimestamp > 0)) {
    throw new RangeError(`startingOffsetsTimestamp must be a positive integer (epoch ms), got ${String(startingOffsetsTimestamp)}`);
  }

  // ---- appArgs (reference order) ----
  const appArgs = [
    `kafka.cluster.dns=${tenant.kafka.kafkaBrokersHost}`,
    `kafka.maxRatePerPartition=${spark.kafkaMaxRatePerPartition}`,
    `kafka.startingOffsets=${spark.kafkaStartingOffsets}`,
    `kafka.subscribePattern=${hoconString(spark.subscribePattern)}`,
    `spark.master.host=${hoconString(`http://${host}:${spark.sparkMasterWebUiPort}`)}`,
  ];
  const aws = tenant.objectStore.aws;
  if (aws) {
    appArgs.push(`s3.bucket=${aws.bucket}`);
  } else if (tenant.objectStore.local) {
    // A shared disk: the job's paths are `${s3.uri.scheme}${s3.bucket}/<dir>`, so the scheme
    // becomes file:// and the "bucket" the directory, giving file:///<path>/logs. The path must
    // be absolute as the Spark workers see it.
    appArgs.push(`s3.bucket=${hoconString(trimTrailingSlashes(tenant.objectStore.local.path))}`, `s3.uri.scheme=${hoconString('file://')}`);
  }
  if (startingOffsetsTimestamp !== undefined) {
    appArgs.push(`kafka.startingOffsetsTimestamp=${startingOffsetsTimestamp}`);
  }

  // ---- environmentVariables ----
  const environmentVariables: Record<string, string> = {
    SPARK_ENV_LOADED: '1',
    [TENANT_ENV_VAR]: tenant.name,
  };
  if (spark.s3aAccessKey !== undefined) environmentVariables['S3A-ACCESS-KEY'] = spark.s3aAccessKey;
  if (spark.s3aSecretKey !== undefined) environmentVariables['S3A-SECRET-KEY'] = spark.s3aSecretKey;

  // ---- sparkProperties ----
  const javaOptions = spark.log4jPropertiesFilePath ? `${SPARK_GC_JAVA_OPTIONS} -Dlog4j.configuration=${spark.log4jPropertiesFilePath}` : SPARK_GC_JAVA_OPTIONS;
  const driverJavaOptions = spark.driverExtraJavaOptions ? `${javaOptions} ${spark.driverExtraJavaOptions}` : javaOptions;
  const sparkProperties: Record<string, string> = {
    'spark.app.name': spark.appName,
    'spark.cores.max': spark.driverCoresMax,
    'spark.driver.cores': driverCores !== undefined ? String(driverCores) : spark.driverCores,
    'spark.driver.memory': driverMemoryInGb !== undefined ? `${driverMemoryInGb}G` : spark.driverMemory,
    'spark.driver.extraJavaOptions': driverJavaOptions,
    'spark.driver.maxResultSize': spark.driverMaxResultSize,
    'spark.driver.supervise': 'true',
    'spark.executor.cores': spark.executorCores,
    'spark.executor.memory': spark.executorMemory,
    'spark.executor.extraJavaOptions': javaOptions,
    'spark.jars': spark.sparkJarPath,
    'spark.master': sparkMasterUrl(host, spark.sparkMasterHost, spark.sparkMasterPort),
    'spark.submit.deployMode': 'cluster',
    'spark.scheduler.mode': 'FAIR',
    'spark.scheduler.pool': 'production',
    'spark.dynamicAllocation.enabled': 'true',
    'spark.shuffle.service.enabled': 'true',
    'spark.dynamicAllocation.executorIdleTimeout': '15',
  };

  // AWS credentials for the driver and the executors, as the reference sets them; also as
  // plain environment variables of the driver (a standalone master applies
  // `environmentVariables` to the driver process).
  const region = spark.awsRegion ?? aws?.region ?? DEFAULT_AWS_REGION;
  const awsEnv: [string, string | undefined][] = [
    ['AWS_ACCESS_KEY_ID', spark.awsAccessKeyId],
    ['AWS_SECRET_ACCESS_KEY', spark.awsSecretAccessKey],
    ['AWS_SESSION_TOKEN', spark.awsSessionToken],
    ['AWS_REGION', region],
  ];
  for (const [name, value] of awsEnv) {
    if (value === undefined || value === '') continue;
    sparkProperties[`spark.driverEnv.${name}`] = value;
    sparkProperties[`spark.executorEnv.${name}`] = value;
    environmentVariables[name] = value;
  }

  // S3A, for a bucket in S3 or an S3-compatible store.
  if (aws) {
    sparkProperties['spark.hadoop.fs.s3a.impl'] = S3A_FILE_SYSTEM;
    sparkProperties['spark.hadoop.fs.s3a.path.style.access'] = aws.endpointOverride ? 'true' : 'false';
    sparkProperties['spark.hadoop.fs.s3a.endpoint'] = aws.endpointOverride ?? s3Endpoint(region);
    sparkProperties['spark.hadoop.fs.s3a.endpoint.region'] = region;
    const keys = s3aKeys(tenant);
    if (keys) {
      if (keys.sessionToken) {
        sparkProperties['spark.hadoop.fs.s3a.aws.credentials.provider'] = TEMPORARY_CREDENTIALS;
        sparkProperties['spark.hadoop.fs.s3a.session.token'] = keys.sessionToken;
      } else {
        sparkProperties['spark.hadoop.fs.s3a.aws.credentials.provider'] = SIMPLE_CREDENTIALS;
      }
      sparkProperties['spark.hadoop.fs.s3a.access.key'] = keys.accessKey;
      sparkProperties['spark.hadoop.fs.s3a.secret.key'] = keys.secretKey;
    }
  }

  return {
    action: 'CreateSubmissionRequest',
    appArgs,
    appResource: spark.sparkJarPath,
    clientSparkVersion: spark.clientSparkVersion,
    mainClass: spark.mainClass,
    environmentVariables,
    sparkProperties,
  };
}

/**
 * `spark://host:port` for the master submitted to; with several masters configured (standalone
 * HA), the others follow (`spark://a:7077,b:7077`) so the driver can register with whichever
 * becomes ALIVE after a failover.
 */
function sparkMasterUrl(host: string, configured: readonly string[], port: number): string {
  const hosts = [host, ...configured.map((h) => h.trim()).filter((h) => h !== '' && h !== host)];
  return `spark://${hosts.map((h) => `${h}:${port}`).join(',')}`;
}

/**
 * The regional S3 endpoint. The reference writes `s3-<region>.amazonaws.com`, a legacy form
 * that regions opened since 2019 do not serve; `s3.<region>.amazonaws.com` works everywhere.
 */
function s3Endpoint(region: string): string {
  return region === DEFAULT_AWS_REGION ? 's3.amazonaws.com' : `s3.${region}.amazonaws.com`;
}

/** `s3aAccessKey`/`s3aSecretKey` when both are set, else the AWS keys (with their session token). */
function s3aKeys(tenant: TenantConfig): { accessKey: string; secretKey: string; sessionToken?: string } | null {
  const s = tenant.spark;
  if (s.s3aAccessKey && s.s3aSecretKey) return { accessKey: s.s3aAccessKey, secretKey: s.s3aSecretKey };
  if (s.awsAccessKeyId && s.awsSecretAccessKey) {
    return s.awsSessionToken
      ? { accessKey: s.awsAccessKeyId, secretKey: s.awsSecretAccessKey, sessionToken: s.awsSessionToken }
      : { accessKey: s.awsAccessKeyId, secretKey: s.awsSecretAccessKey };
  }
  return null;
}

function positiveInteger(value: number | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${String(value)}`);
  return value;
}

/** A HOCON quoted string (HOCON quoted strings are JSON strings). */
function hoconString(value: string): string {
  return JSON.stringify(value);
}

function trimTrailingSlashes(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}

// ---------------------------------------------------------------------------------------------
// Redaction

/** Names of settings whose values are secrets (Spark's own `spark.redaction.regex`, widened). */
const SECRET_NAME = /secret|password|passwd|pwd|token|credential|key/i;
/** Settings that name a class, not a secret, despite matching SECRET_NAME. */
const NOT_SECRET_NAME = /credentials\.provider$/i;
/** `-Dsome.secret.key=value` inside Java options. */
const INLINE_SECRET = /(-D[^\s=]*(?:secret|password|passwd|token|credential|key)[^\s=]*=)(\S+)/gi;
/** `scheme://user:password@` in URLs. */
const URL_USERINFO = /([a-z][a-z0-9+.-]*:\/\/)[^/\s@]+@/gi;

export function isSecretSettingName(name: string): boolean {
  return SECRET_NAME.test(name) && !NOT_SECRET_NAME.test(name);
}

/**
 * A copy safe to log: every value held under a key, secret, token, password or credential name
 * (in sparkProperties, environmentVariables and `name=value` appArgs) becomes "[redacted]";
 * those values are also blanked wherever else they occur, as are `-D…secret…=value` Java
 * options and the user-info of URLs.
 */
export function redactSubmissionRequest(req: CreateSubmissionRequest): CreateSubmissionRequest {
  const secrets = new Set<string>();
  const redactMap = (map: Record<string, string>): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(map)) {
      if (isSecretSettingName(name)) {
        if (value !== '') secrets.add(value);
        out[name] = REDACTED;
      } else {
        out[name] = value;
      }
    }
    return out;
  };
  const sparkProperties = redactMap(req.sparkProperties);
  const environmentVariables = redactMap(req.environmentVariables);
  const appArgs = req.appArgs.map((arg) => {
    const eq = arg.indexOf('=');
    if (eq > 0 && isSecretSettingName(arg.slice(0, eq))) {
      const value = arg.slice(eq + 1);
      if (value !== '') {
        secrets.add(value);
        secrets.add(unquote(value));
      }
      return `${arg.slice(0, eq)}=${REDACTED}`;
    }
    return arg;
  });

  // Longest first, so a secret that contains another is blanked whole.
  const known = [...secrets].filter((s) => s.length >= 4 && s !== REDACTED).sort((a, b) => b.length - a.length);
  const scrub = (value: string): string => {
    if (value === REDACTED) return value;
    let out = value;
    for (const secret of known) out = out.split(secret).join(REDACTED);
    return out.replace(INLINE_SECRET, `$1${REDACTED}`).replace(URL_USERINFO, `$1${REDACTED}@`);
  };
  const scrubMap = (map: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(map).map(([k, v]) => [k, scrub(v)]));

  return {
    action: req.action,
    appArgs: appArgs.map(scrub),
    appResource: scrub(req.appResource),
    clientSparkVersion: req.clientSparkVersion,
    mainClass: req.mainClass,
    environmentVariables: scrubMap(environmentVariables),
    sparkProperties: scrubMap(sparkProperties),
  };
}

function unquote(value: string): string {
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    try {
      const parsed: unknown = JSON.parse(value);
      if (typeof parsed === 'string') return parsed;
    } catch {
      // not a JSON string: keep it as it is
    }
  }
  return value;
}
