/**
 * The daemon's HOCON as tests write it: a tenant's block on a Spark master (the simulator or a
 * real one), the `loop { }` settings, and the whole file of a daemon run as its own process.
 */

/** Where a tenant's Spark master answers (the master simulator and a real master both say). */
export interface MasterEndpoints {
  host: string;
  uiPort: number;
  restPort: number;
}

export interface TenantHoconOptions {
  name: string;
  /** The tenant's `objectStore` HOCON. */
  store: string;
  /** The tenant's `kafka { }` block ('' for none). */
  kafka: string;
  /** Its master, or the masters of Spark HA (on the same ports). */
  masters: MasterEndpoints[];
  jar: string;
  mainClass: string;
  /** More settings inside `spark { }`. */
  sparkExtra?: string;
  /** More HOCON inside the tenant block. */
  extra?: string;
}

/** One tenant's HOCON block (an element of `tenants = [ … ]`). */
export function tenantHocon(t: TenantHoconOptions): string {
  const first = t.masters[0]!;
  return `{
    name = "${t.name}"
    ${t.store}
    ${t.kafka}
    spark {
      sparkMasterHost = "${t.masters.map((m) => m.host).join(',')}"
      sparkMasterWebUiPort = ${first.uiPort}
      sparkMasterRestPort = ${first.restPort}
      sparkJarPath = "${t.jar}"
      mainClass = "${t.mainClass}"
      ${t.sparkExtra ?? ''}
    }
    ${t.extra ?? ''}
  }`;
}

/** The daemon's `loop { }` settings (seconds). */
export interface LoopSettings {
  sparkPollSeconds: number;
  submitGraceSeconds: number;
  discoverySeconds: number;
  delaySampleSeconds: number;
  backoff: { minSeconds: number; maxSeconds: number };
}

/** What a test's loop is unless it says otherwise: the Spark stream at work, discovery and delay samples out of the way. */
export const TEST_LOOP: LoopSettings = {
  sparkPollSeconds: 0.5,
  submitGraceSeconds: 2,
  discoverySeconds: 3600,
  delaySampleSeconds: 3600,
  backoff: { minSeconds: 0.2, maxSeconds: 1 },
};

/** The `loop { }` block: `loop`'s settings, TEST_LOOP's for the others. */
export function loopHocon(loop: Partial<LoopSettings> = {}): string {
  const backoff = loop.backoff ?? TEST_LOOP.backoff;
  return `loop {
  sparkPollSeconds = ${loop.sparkPollSeconds ?? TEST_LOOP.sparkPollSeconds}
  submitGraceSeconds = ${loop.submitGraceSeconds ?? TEST_LOOP.submitGraceSeconds}
  discoverySeconds = ${loop.discoverySeconds ?? TEST_LOOP.discoverySeconds}
  delaySampleSeconds = ${loop.delaySampleSeconds ?? TEST_LOOP.delaySampleSeconds}
  backoff { minSeconds = ${backoff.minSeconds}, maxSeconds = ${backoff.maxSeconds} }
}`;
}

export interface DaemonConfigOptions {
  /** The `database { }` block (e.g. `PrivateMariaDb.hocon(name)`). */
  database: string;
  /** `ha.leaseSeconds` (default: the daemon's). */
  leaseSeconds?: number;
  loop?: Partial<LoopSettings>;
  tenants: string[];
}

/** The config file of a daemon run as its own process (`startDaemonProcess`), on an ephemeral port. */
export function daemonConfig(opts: DaemonConfigOptions): string {
  return `
http { port = 0, host = "127.0.0.1" }
${opts.database}
${opts.leaseSeconds !== undefined ? `ha { leaseSeconds = ${opts.leaseSeconds} }` : ''}
${loopHocon(opts.loop)}
tenants = [${opts.tenants.join(',\n')}]
`;
}
