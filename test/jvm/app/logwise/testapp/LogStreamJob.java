package logwise.testapp;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.coalesce;
import static org.apache.spark.sql.functions.date_format;
import static org.apache.spark.sql.functions.from_json;
import static org.apache.spark.sql.functions.lit;

import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.streaming.DataStreamReader;
import org.apache.spark.sql.streaming.StreamingQuery;
import org.apache.spark.sql.streaming.Trigger;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * A real Structured Streaming job in the shape of the Logwise one: reads the Kafka topics that
 * match `kafka.subscribePattern`, writes each log line as Parquet into the Logwise layout
 * `logs/env=…/service_name=…/component_name=…/year=…/month=…/day=…/hour=…/minute=…/` under
 * `${s3.uri.scheme}${s3.bucket}` and checkpoints under `…/checkpoint` (so the orchestrator's
 * discovery, delay and replay cleanup work on what Spark itself wrote).
 *
 * App arguments as the orchestrator sends them: `kafka.cluster.dns` (host, host:port, comma
 * list; port `kafka.bootstrap.servers.port`, default 9092), `kafka.subscribePattern`,
 * `kafka.startingOffsets`, `kafka.startingOffsetsTimestamp` (epoch ms; > 0 reads from that
 * time), `kafka.maxRatePerPartition`, `s3.bucket`, `s3.uri.scheme` (default `s3a://`).
 * A line is JSON `{"env","service_name","component_name","message"}`; its minute partition is
 * the Kafka record's timestamp (UTC). Rows also carry topic, partition and offset, so a test
 * can tell a replayed read from a first one.
 */
public final class LogStreamJob {
  private static final String LOGS_DIR = "logs";
  private static final String CHECKPOINT_DIR = "checkpoint";
  private static final long TRIGGER_SECONDS = 5;

  public static void main(String[] argv) throws Exception {
    DriverArgs.print("LogStreamJob", argv);
    Map<String, String> args = DriverArgs.parse(argv);
    String root = args.getOrDefault("s3.uri.scheme", "s3a://") + required(args, "s3.bucket");
    String bootstrap = bootstrapServers(required(args, "kafka.cluster.dns"), args.getOrDefault("kafka.bootstrap.servers.port", "9092"));
    long startingTimestamp = Long.parseLong(args.getOrDefault("kafka.startingOffsetsTimestamp", "0"));
    long ratePerPartition = Long.parseLong(args.getOrDefault("kafka.maxRatePerPartition", "4000"));

    SparkSession spark = SparkSession.builder().getOrCreate();
    spark.conf().set("spark.sql.session.timeZone", "UTC");

    DataStreamReader reader = spark.readStream()
        .format("kafka")
        .option("kafka.bootstrap.servers", bootstrap)
        .option("subscribePattern", required(args, "kafka.subscribePattern"))
        .option("failOnDataLoss", "false")
        .option("maxOffsetsPerTrigger", String.valueOf(ratePerPartition * TRIGGER_SECONDS))
        .option("kafka.metadata.max.age.ms", "2000");
    if (startingTimestamp > 0) {
      reader = reader.option("startingTimestamp", String.valueOf(startingTimestamp))
          .option("startingOffsetsByTimestampStrategy", "latest");
      System.out.println("logwise-test-app reading from timestamp " + startingTimestamp);
    } else {
      reader = reader.option("startingOffsets", args.getOrDefault("kafka.startingOffsets", "latest"));
      System.out.println("logwise-test-app reading from " + args.getOrDefault("kafka.startingOffsets", "latest"));
    }
    System.out.println("logwise-test-app bootstrap " + bootstrap + ", writing under " + root);
    System.out.flush();

    StructType line = new StructType()
        .add("env", DataTypes.StringType)
        .add("service_name", DataTypes.StringType)
        .add("component_name", DataTypes.StringType)
        .add("message", DataTypes.StringType);
    Dataset<Row> records = reader.load();
    Column ts = col("timestamp");
    Dataset<Row> rows = records
        .select(from_json(col("value").cast("string"), line).as("l"), col("topic"), col("partition"), col("offset"), ts)
        .select(
            coalesce(col("l.env"), lit("unknown")).as("env"),
            coalesce(col("l.service_name"), lit("unknown")).as("service_name"),
            coalesce(col("l.component_name"), lit("unknown")).as("component_name"),
            col("l.message").as("message"),
            col("topic"), col("partition"), col("offset"), ts.as("kafka_timestamp"),
            date_format(ts, "yyyy").as("year"),
            date_format(ts, "MM").as("month"),
            date_format(ts, "dd").as("day"),
            date_format(ts, "HH").as("hour"),
            date_format(ts, "mm").as("minute"));

    StreamingQuery query = rows.writeStream()
        .format("parquet")
        .option("path", root + "/" + LOGS_DIR)
        .option("checkpointLocation", root + "/" + CHECKPOINT_DIR)
        .partitionBy("env", "service_name", "component_name", "year", "month", "day", "hour", "minute")
        .trigger(Trigger.ProcessingTime(TRIGGER_SECONDS, TimeUnit.SECONDS))
        .start();
    query.awaitTermination();
  }

  private static String required(Map<String, String> args, String key) {
    String v = args.get(key);
    if (v == null || v.isEmpty()) throw new IllegalArgumentException("missing app argument " + key);
    return v;
  }

  static String bootstrapServers(String dns, String port) {
    StringBuilder sb = new StringBuilder();
    for (String host : dns.split(",")) {
      String h = host.trim();
      if (h.isEmpty()) continue;
      if (sb.length() > 0) sb.append(',');
      sb.append(h.contains(":") ? h : h + ":" + port);
    }
    return sb.toString();
  }
}
