/**
 * Configs of many tenants written out in full, as in the Java orchestrator's
 * application-default.conf (its ~35 keys per tenant, ~1.5 KB each, `${?VAR}` substitutions and
 * the older version's `"prefix/"${VAR}` concatenations; the variables are renamed LW_REFERENCE_*
 * so that the machine's own AWS_* cannot change the outcome), for the config tests and the config
 * benchmark. Generated, never committed: 10,000 tenants are ~15 MB.
 *
 * Every value is literal or an optional substitution, so the config loads with no environment
 * variable set; tenant `i` is named `T<i>` and has its own bucket, brokers and master.
 */
export function referenceTenant(i: number): string {
  return `  {
    name = "T${i}"
    defaultLogsRetentionDays = 3
    envLogsRetentionDays = [{
      envs = ["prod", "darwin"],
      retentionDays = 30
    }]
    objectStore = {
      aws = {
        region = "us-east-1",
        bucket = "log-central-${i}",
        endpointOverride = \${?LW_REFERENCE_S3_ENDPOINT_OVERRIDE}
        roleArn = "arn:aws:iam::000000000000:role/log-central-role-${i}"
      }
    },
    kafka = {
      kafkaBrokersHost = "kafka-${i}-1.internal,kafka-${i}-2.internal"
      maxProducerRatePerPartition = 6000
    },
    spark = {
      sparkMasterHost = "spark-master-${i}"
      kafkaMaxRatePerPartition = "4000"
      kafkaStartingOffsets = "latest"
      subscribePattern = "^logs.*"
      sparkJarPath = "s3a://log-central-${i}/"\${?LW_REFERENCE_JAR_PATH}"logwise-spark.jar"
      clientSparkVersion = "3.1.2"
      mainClass = "com.logwise.spark.MainApplication"
      appName = "logwise"
      driverCoresMax = "50000"
      driverCores = "1"
      driverMemory = "1G"
      driverMaxResultSize = "1G"
      log4jPropertiesFilePath = "https://s3.amazonaws.com/log-central-${i}/log4j.properties"
      executorCores = "1"
      executorMemory = "1G"
      logsDir = "logs"
      checkPointDir = "checkpoint"
      awsAccessKeyId = \${?LW_REFERENCE_AWS_ACCESS_KEY_ID}
      awsSecretAccessKey = \${?LW_REFERENCE_AWS_SECRET_ACCESS_KEY}
      awsSessionToken = \${?LW_REFERENCE_AWS_SESSION_TOKEN}
      awsRegion = \${?LW_REFERENCE_AWS_REGION}
    },
    delayMetrics = {
      app = {
        sampleEnv = "prod"
        sampleComponentType = "application"
        sampleServiceName = "healthcheck-dummy-${i}"
      }
    }
  }`;
}

/** `tenants = [ … ]` with `n` tenants in the reference's full format. */
export function referenceTenants(n: number): string {
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(referenceTenant(i));
  return `# ${n} tenants in the reference's full format (test/support/reference-config.ts)\ntenants = [\n${parts.join(',\n')}\n]\n`;
}
