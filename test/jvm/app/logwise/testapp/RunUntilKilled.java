package logwise.testapp;

/**
 * A driver that runs until it is killed, without a SparkContext (no executor, ~100 MB): what
 * the keep-alive tests supervise. Prints its arguments, so the worker's driver log shows what
 * the orchestrator submitted.
 */
public final class RunUntilKilled {
  public static void main(String[] args) throws InterruptedException {
    DriverArgs.print("RunUntilKilled", args);
    while (true) Thread.sleep(60_000L);
  }
}
