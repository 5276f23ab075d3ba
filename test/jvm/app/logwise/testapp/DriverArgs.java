package logwise.testapp;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The orchestrator's appArgs (`key=value`, values optionally HOCON/JSON-quoted) and the driver's settings. */
final class DriverArgs {
  private DriverArgs() {}

  static void print(String name, String[] args) {
    System.out.println("logwise-test-app " + name + " started; args:");
    for (String a : args) System.out.println("  arg " + a);
    System.out.println("  spark.app.name=" + System.getProperty("spark.app.name"));
    System.out.println("  spark.driver.memory=" + System.getProperty("spark.driver.memory"));
    System.out.println("  spark.driver.cores=" + System.getProperty("spark.driver.cores"));
    System.out.flush();
  }

  static long secondsFromAppName(long fallback) {
    String name = System.getProperty("spark.app.name", "");
    Matcher m = Pattern.compile("(\\d+)$").matcher(name);
    return m.find() ? Long.parseLong(m.group(1)) : fallback;
  }

  static Map<String, String> parse(String[] args) {
    Map<String, String> out = new LinkedHashMap<>();
    for (String a : args) {
      int eq = a.indexOf('=');
      if (eq <= 0) continue;
      out.put(a.substring(0, eq).trim(), unquote(a.substring(eq + 1).trim()));
    }
    return out;
  }

  /** A JSON string literal's value (HOCON quoted strings are JSON strings); anything else as is. */
  static String unquote(String v) {
    if (v.length() < 2 || v.charAt(0) != '"' || v.charAt(v.length() - 1) != '"') return v;
    StringBuilder sb = new StringBuilder();
    for (int i = 1; i < v.length() - 1; i++) {
      char c = v.charAt(i);
      if (c != '\\' || i + 1 >= v.length() - 1) {
        sb.append(c);
        continue;
      }
      char n = v.charAt(++i);
      switch (n) {
        case 'n': sb.append('\n'); break;
        case 't': sb.append('\t'); break;
        case 'r': sb.append('\r'); break;
        case 'b': sb.append('\b'); break;
        case 'f': sb.append('\f'); break;
        case 'u': sb.append((char) Integer.parseInt(v.substring(i + 1, i + 5), 16)); i += 4; break;
        default: sb.append(n);
      }
    }
    return sb.toString();
  }
}
