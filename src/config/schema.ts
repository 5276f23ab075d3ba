import { z } from 'zod';

// Messages people can act on, for the config and for request bodies alike: a missing key
// "is required", a wrong shape says what was expected and what came.
z.config({
  customError: (issue) => {
    if (issue.code !== 'invalid_type') return undefined;
    if (issue.input === undefined) return 'is required';
    if (issue.expected === 'object') return `expected an object ({ … }), got ${describe(issue.input)}`;
    if (issue.expected === 'array') return `expected a list ([ … ]), got ${describe(issue.input)}`;
    return undefined;
  },
});

// HOCON substitutions from the environment arrive as strings ("8080"), so numbers and
// booleans are coerced; anything that is not a clean number stays an error.
const num = z.preprocess(
  (v) => (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v)) ? Number(v) : v),
  z.number({ error: (i) => `expected a number, got ${describe(i.input)}` }),
);
const int = num.pipe(z.number().int('expected an integer'));
const port = int.pipe(z.number().min(1, 'expected a port (1-65535)').max(65535, 'expected a port (1-65535)'));
/** 0 lets the system pick a free port (tests, several instances on one machine). */
const listenPort = int.pipe(z.number().min(0, 'expected a port (0-65535)').max(65535, 'expected a port (0-65535)'));
const positive = num.pipe(z.number().positive('expected a positive number'));
const bool = z.preprocess(
  (v) => (v === 'true' ? true : v === 'false' ? false : v),
  z.boolean({ error: (i) => `expected true or false, got ${describe(i.input)}` }),
);
const str = z.string({ error: (i) => (i.input === undefined ? 'is required' : `expected a string, got ${describe(i.input)}`) });
const nonEmpty = str.pipe(z.string().min(1, 'must not be empty'));
/** Spark settings the reference keeps as strings ("4000", "1G"); numbers written bare are accepted too. */
const sparkValue = z.preprocess((v) => (typeof v === 'number' ? String(v) : v), nonEmpty);

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  // A config value or a request field quoted back: its start is enough to recognise it.
  const text = JSON.stringify(v);
  return `${typeof v} ${text.length <= 64 ? text : `${text.slice(0, 64)}… (${text.length - 64} more characters)`}`;
}

const awsObjectStore = z.strictObject({
  region: nonEmpty,
  bucket: nonEmpty,
  endpointOverride: nonEmpty.optional(),
  roleArn: nonEmpty.optional(),
});
const localObjectStore = z.strictObject({ path: nonEmpty });
const objectStore = z
  .strictObject({ aws: awsObjectStore.optional(), local: localObjectStore.optional() })
  .refine((o) => Boolean(o.aws) !== Boolean(o.local), 'set exactly one of objectStore.aws or objectStore.local');

/**
 * One Spark master as `sparkMasterHost` may name it: `host`, `host:port` or `spark://host:port`
 * (the reference's compose default is `spark://spark-master:7077`); IPv6 in brackets.
 */
export function parseSparkMaster(entry: string): { host: string; port?: number } | null {
  const text = entry
    .trim()
    .replace(/^spark:\/\//i, '')
    .replace(/\/+$/, '');
  const m = /^(\[[0-9a-fA-F:.]+\]|[^\s/:[\]@?#]+)(?::(\d{1,5}))?$/.exec(text);
  if (!m) return null;
  const port = m[2] === undefined ? undefined : Number(m[2]);
  if (port !== undefined && (port < 1 || port > 65535)) return null;
  return port === undefined ? { host: m[1]! } : { host: m[1]!, port };
}

/**
 * `sparkMasterHost` as written (one string, comma-separated, or a list; `spark://` URLs as
 * Spark writes an HA master list: `spark://m1:7077,m2:7077`) → plain hosts. A port in it is
 * the RPC port (`sparkMasterPort`); one that contradicts another, or an explicit
 * `sparkMasterPort`, is an error (one port applies to every master of a tenant).
 */
function normalizeSparkMasters(raw: unknown, ctx: z.core.$RefinementCtx): unknown {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  const spark = raw as Record<string, unknown>;
  const given = spark.sparkMasterHost;
  const entries =
    typeof given === 'string'
      ? given.split(',')
      : Array.isArray(given) && given.every((e) => typeof e === 'string')
        ? (given as string[]).flatMap((e) => e.split(','))
        : undefined;
  if (!entries) return raw;
  const hosts: string[] = [];
  const ports = new Set<number>();
  for (const entry of entries.map((e) => e.trim()).filter(Boolean)) {
    const master = parseSparkMaster(entry);
    if (!master) {
      ctx.addIssue({ code: 'custom', path: ['sparkMasterHost'], message: `expected host, host:port or spark://host:port, got ${describe(entry)}` });
      return raw;
    }
    hosts.push(master.host);
    if (master.port !== undefined) ports.add(master.port);
  }
  const out: Record<string, unknown> = { ...spark, sparkMasterHost: hosts };
  if (ports.size > 1) {
    ctx.addIssue({
      code: 'custom',
      path: ['sparkMasterHost'],
      message: `names the masters with different ports (${[...ports].join(', ')}); one sparkMasterPort applies to all`,
    });
  } else if (ports.size === 1) {
    const [port] = ports;
    if (spark.sparkMasterPort === undefined) out.sparkMasterPort = port;
    else if (Number(spark.sparkMasterPort) !== port) {
      ctx.addIssue({ code: 'custom', path: ['sparkMasterPort'], message: `is ${String(spark.sparkMasterPort)}, but sparkMasterHost names port ${port}` });
    }
  }
  return out;
}

/** One broker of `kafkaBrokersHost`: `host` or `host:port` (a `PLAINTEXT://`-style prefix is allowed; IPv6 in brackets). */
function validBroker(entry: string): boolean {
  const text = entry
    .trim()
    .replace(/^[a-z_]+:\/\//i, '')
    .replace(/\/+$/, '');
  const m = /^(\[[0-9a-fA-F:.]+\]|[^\s/:[\]@?#]+)(?::(\d{1,5}))?$/.exec(text);
  return m !== null && (m[2] === undefined || (Number(m[2]) >= 1 && Number(m[2]) <= 65535));
}

/** The reference's Spark job layout: `logs/env=…/service_name=…/component_name=…/` (SPEC §2). */
export const DEFAULT_PARTITION_KEYS: readonly string[] = ['env', 'service_name', 'component_name'];

const spark = z.strictObject({
  /** One host, or several (comma-separated or a list) for Spark standalone HA; `spark://host:port` forms are read by `normalizeSparkMasters`. */
  sparkMasterHost: z
    .array(nonEmpty, { error: (i) => (i.input === undefined ? 'is required' : 'expected a host name or a list of them') })
    .min(1, 'must name at least one master'),
  sparkMasterWebUiPort: port.default(8080),
  sparkMasterRestPort: port.default(6066),
  sparkMasterPort: port.default(7077),
  kafkaMaxRatePerPartition: sparkValue.default('4000'),
  kafkaStartingOffsets: sparkValue.default('latest'),
  subscribePattern: sparkValue.default('^logs.*'),
  sparkJarPath: nonEmpty,
  clientSparkVersion: sparkValue.default('3.1.2'),
  mainClass: nonEmpty.default('com.logwise.spark.MainApplication'),
  appName: nonEmpty.default('logwise'),
  driverCoresMax: sparkValue.default('50000'),
  driverCores: sparkValue.default('1'),
  driverMemory: sparkValue.default('1G'),
  driverMaxResultSize: sparkValue.default('1G'),
  log4jPropertiesFilePath: nonEmpty.optional(),
  /**
   * Appended to the driver's JVM options: e.g. the `--add-opens` flags a Java 17 driver of
   * Spark 3.3–3.5 needs to create its SparkContext (their REST server does not add them).
   */
  driverExtraJavaOptions: nonEmpty.optional(),
  executorCores: sparkValue.default('1'),
  executorMemory: sparkValue.default('1G'),
  logsDir: nonEmpty.default('logs'),
  checkPointDir: nonEmpty.default('checkpoint'),
  awsAccessKeyId: nonEmpty.optional(),
  awsSecretAccessKey: nonEmpty.optional(),
  awsSessionToken: nonEmpty.optional(),
  awsRegion: nonEmpty.optional(),
  s3aAccessKey: nonEmpty.optional(),
  s3aSecretKey: nonEmpty.optional(),
});

const tenant = z.strictObject({
  name: nonEmpty.pipe(z.string().max(128, 'must be at most 128 characters')),
  defaultLogsRetentionDays: int.pipe(z.number().min(1, 'expected at least 1 day')).default(3),
  envLogsRetentionDays: z
    .array(
      z.strictObject({ envs: z.array(nonEmpty).min(1, 'must name at least one env'), retentionDays: int.pipe(z.number().min(1, 'expected at least 1 day')) }),
    )
    .default([]),
  objectStore,
  /**
   * The folder levels under `logsDir` that name a service. Unset: read from the bucket
   * (`service_name=` or `env=` at the first level), for discovery and delay alike.
   */
  partitionKeys: z.array(nonEmpty).min(1, 'must name at least one level').optional(),
  vector: z.strictObject({ host: nonEmpty, apiPort: port.default(8686) }).optional(),
  /** Required: every submission of the tenant's Spark job passes `kafka.cluster.dns=<kafkaBrokersHost>`. */
  kafka: z.strictObject(
    {
      /** `host`, `host:port` or a comma-separated list of them; passed to the Spark job as written. */
      kafkaBrokersHost: nonEmpty.refine((v) => v.split(',').some((e) => e.trim() !== '') && v.split(',').every((e) => e.trim() === '' || validBroker(e)), {
        message: 'expected host, host:port or a comma-separated list of them',
      }),
      kafkaBrokerPort: port.default(9092),
      maxProducerRatePerPartition: int.optional(),
    },
    {
      error: (i) =>
        i.input === undefined
          ? 'is required (a Spark submission passes kafka.kafkaBrokersHost to the job)'
          : `expected an object ({ … }), got ${describe(i.input)}`,
    },
  ),
  spark: z.preprocess(normalizeSparkMasters, spark),
  delayMetrics: z
    .strictObject({
      app: z.strictObject({
        sampleEnv: nonEmpty,
        sampleServiceName: nonEmpty,
        sampleComponentName: nonEmpty.optional(),
        /** The reference's name for the component level; kept so its config parses unchanged. */
        sampleComponentType: nonEmpty.optional(),
      }),
      allServices: bool.default(false),
    })
    .optional(),
});

const database = z.strictObject({
  client: z.enum(['mysql', 'sqlite'], { error: (i) => `expected "mysql" or "sqlite", got ${describe(i.input)}` }).default('sqlite'),
  host: nonEmpty.default('127.0.0.1'),
  port: port.default(3306),
  user: nonEmpty.default('root'),
  password: str.default(''),
  database: nonEmpty.default('log_central'),
  filename: nonEmpty.default('data/orchestrator.sqlite'),
  poolMax: int.pipe(z.number().min(1, 'expected at least 1')).default(10),
});

const loop = z.strictObject({
  sparkPollSeconds: positive.default(15),
  discoverySeconds: positive.default(300),
  delaySampleSeconds: positive.default(60),
  submitGraceSeconds: positive.default(60),
  backoff: z.strictObject({ minSeconds: positive.default(1), maxSeconds: positive.default(300) }).default({ minSeconds: 1, maxSeconds: 300 }),
  /**
   * When a tenant's driver keeps dying: `threshold` deaths within `windowSeconds` start spacing
   * submissions out, doubling up to `maxBackoffSeconds`. Unset keys keep the stream's defaults
   * (5 deaths in 600 s, up to 600 s).
   */
  crashLoop: z
    .strictObject({
      threshold: int.pipe(z.number().min(1, 'expected at least 1 death')).optional(),
      windowSeconds: positive.optional(),
      maxBackoffSeconds: positive.optional(),
    })
    .optional(),
});

/**
 * Many replicas (SPEC §4.5): with `database.client = mysql` every tenant is acted for by the one
 * replica holding its lease in MySQL; `leaseSeconds` is how long a lease lasts without renewal,
 * so it bounds the failover time. SQLite serves one process: no leases.
 */
const ha = z.strictObject({
  leaseSeconds: num.pipe(z.number().min(1, 'expected at least 1 second').max(600, 'expected at most 600 seconds')).default(15),
});

export const configSchema = z
  .strictObject({
    tenants: z
      .array(tenant, { error: (i) => (i.input === undefined ? 'is required: list at least one tenant' : 'expected a list of tenants') })
      .min(1, 'list at least one tenant'),
    http: z
      .strictObject({ port: listenPort.default(8080), host: nonEmpty.default('0.0.0.0'), authToken: nonEmpty.optional(), protectReads: bool.default(false) })
      .default({ port: 8080, host: '0.0.0.0', protectReads: false }),
    database: database.default(database.parse({})),
    loop: loop.default(loop.parse({})),
    ha: ha.optional(),
  })
  .superRefine((cfg, ctx) => {
    const seen = new Set<string>();
    cfg.tenants.forEach((t, i) => {
      if (seen.has(t.name)) ctx.addIssue({ code: 'custom', path: ['tenants', i, 'name'], message: `duplicate tenant name "${t.name}"` });
      seen.add(t.name);
    });
    if (cfg.ha && cfg.database.client !== 'mysql') {
      ctx.addIssue({ code: 'custom', path: ['ha'], message: 'leases between replicas need database.client = mysql (SQLite serves one process)' });
    }
    if (cfg.loop.backoff.minSeconds > cfg.loop.backoff.maxSeconds) {
      ctx.addIssue({ code: 'custom', path: ['loop', 'backoff', 'minSeconds'], message: 'must not be greater than loop.backoff.maxSeconds' });
    }
  });

export type Config = z.infer<typeof configSchema>;
export type TenantConfig = Config['tenants'][number];
export type SparkConfig = TenantConfig['spark'];
export type DatabaseConfig = Config['database'];
export type LoopConfig = Config['loop'];
export type HaConfig = z.infer<typeof ha>;

/** Lease length when leases apply (MySQL), else null: one process, no lease. */
export function leaseMsOf(cfg: Pick<Config, 'database' | 'ha'>): number | null {
  return cfg.database.client === 'mysql' ? (cfg.ha?.leaseSeconds ?? 15) * 1000 : null;
}
