package logwise.testapp;

/**
 * A driver that exits 1 after N seconds (FAILED when not supervised; a supervised one is
 * restarted in place by its worker). N as in {@link FinishAfter}.
 */
public final class FailAfter {
  public static void main(String[] args) throws InterruptedException {
    DriverArgs.print("FailAfter", args);
    Thread.sleep(DriverArgs.secondsFromAppName(10) * 1000L);
    System.exit(1);
  }
}
