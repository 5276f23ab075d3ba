package logwise.testapp;

/**
 * A driver that exits 0 after N seconds (the master records FINISHED). N is the number that
 * ends `spark.app.name` (e.g. `finish-after-8`), default 10: the app name is the one setting a
 * tenant's config passes to the driver verbatim.
 */
public final class FinishAfter {
  public static void main(String[] args) throws InterruptedException {
    DriverArgs.print("FinishAfter", args);
    Thread.sleep(DriverArgs.secondsFromAppName(10) * 1000L);
    System.exit(0);
  }
}
