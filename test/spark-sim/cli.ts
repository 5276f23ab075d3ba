/**
 * Runs the Spark master simulator by hand:
 *
 *   tsx test/spark-sim/cli.ts --ui-port 8081 --rest-port 6066 --workers 2 --cores 4 --memory 8192 [--die-every 120]
 *
 * Other flags: --host (bind address, default 127.0.0.1), --status (ALIVE|STANDBY|...),
 * --kill-delay <ms> (RUNNING → KILLED after a kill, default 2000), --launch-delay <ms>,
 * --hold-next <json|create|kill|status> (the first such request is read and never answered, as
 * by a master that dies while the client waits; --hold-processed carries it out first),
 * --json-log (one JSON object per line: `{"event":"started",…}`, then one per request with, for
 * a create, its submission id and appArgs; for tests that run the simulator as a process).
 * Ports 0 pick free ones (the start line says which).
 * Logs each request on one line; stops on SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { SparkMasterSimulator, type SimEndpoint, type SimMasterStatus } from './master-simulator.js';

const USAGE =
  'usage: tsx test/spark-sim/cli.ts [--host 127.0.0.1] [--ui-port 8081] [--rest-port 6066] [--workers 2] [--cores 4] ' +
  '[--memory 8192] [--status ALIVE] [--kill-delay 2000] [--launch-delay 0] [--die-every <seconds>] ' +
  '[--hold-next json|create|kill|status [--hold-processed]] [--json-log]';
const HOLDABLE: readonly SimEndpoint[] = ['json', 'create', 'kill', 'status'];

function main(): void {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        host: { type: 'string', default: '127.0.0.1' },
        'ui-port': { type: 'string', default: '8081' },
        'rest-port': { type: 'string', default: '6066' },
        workers: { type: 'string', default: '2' },
        cores: { type: 'string', default: '4' },
        memory: { type: 'string', default: '8192' },
        status: { type: 'string', default: 'ALIVE' },
        'kill-delay': { type: 'string', default: '2000' },
        'launch-delay': { type: 'string', default: '0' },
        'die-every': { type: 'string' },
        'hold-next': { type: 'string' },
        'hold-processed': { type: 'boolean', default: false },
        'json-log': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const int = (name: string, v: string, min = 0): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) {
      console.error(`--${name} expects an integer >= ${min}, got ${JSON.stringify(v)}\n${USAGE}`);
      process.exit(2);
    }
    return n;
  };
  const workers = int('workers', values.workers);
  const cores = int('cores', values.cores, 1);
  const memoryMb = int('memory', values.memory, 1);
  const dieEvery = values['die-every'] === undefined ? undefined : Number(values['die-every']);
  if (dieEvery !== undefined && !(dieEvery > 0)) {
    console.error(`--die-every expects a positive number of seconds\n${USAGE}`);
    process.exit(2);
  }

  const hold = values['hold-next'] as SimEndpoint | undefined;
  if (hold !== undefined && !HOLDABLE.includes(hold)) {
    console.error(`--hold-next expects one of ${HOLDABLE.join(', ')}, got ${JSON.stringify(hold)}\n${USAGE}`);
    process.exit(2);
  }
  const json = values['json-log'];
  const sim = new SparkMasterSimulator({
    host: values.host,
    uiPort: int('ui-port', values['ui-port']),
    restPort: int('rest-port', values['rest-port']),
    status: values.status as SimMasterStatus,
    workers: Array.from({ length: workers }, () => ({ cores, memoryMb })),
    killDelayMs: int('kill-delay', values['kill-delay']),
    launchDelayMs: int('launch-delay', values['launch-delay']),
    log: json ? undefined : (line) => console.log(line),
    onRequest: json
      ? (r, create) => {
          const body = create?.body as { appArgs?: unknown } | undefined;
          console.log(
            JSON.stringify({
              event: 'request',
              time: new Date().toISOString(),
              server: r.server,
              method: r.method,
              path: r.path,
              endpoint: r.endpoint,
              status: r.status,
              ...(r.held ? { held: true } : {}),
              ...(create ? { submissionId: create.submissionId ?? null, appArgs: Array.isArray(body?.appArgs) ? body.appArgs : null } : {}),
            }),
          );
        }
      : undefined,
  });
  if (hold !== undefined) sim.holdNext(1, hold, { processFirst: values['hold-processed'] });

  let timer: NodeJS.Timeout | undefined;
  const shutdown = (signal: string) => {
    console.log(`${new Date().toISOString()} ${signal}: stopping`);
    if (timer) clearInterval(timer);
    sim.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));

  sim.start().then(
    () => {
      if (json) {
        console.log(
          JSON.stringify({
            event: 'started',
            time: new Date().toISOString(),
            pid: process.pid,
            status: sim.getStatus(),
            uiPort: sim.uiPort,
            restPort: sim.restPort,
          }),
        );
      } else {
        console.log(`${new Date().toISOString()} Spark master simulator ${sim.getStatus()}: web UI ${sim.uiUrl}/json/  REST ${sim.restUrl}/v1/submissions/`);
      }
      if (!json) for (const w of sim.workers()) console.log(`  worker ${w.id}: ${w.cores} cores, ${w.memoryMb} MB`);
      if (dieEvery !== undefined) {
        timer = setInterval(() => {
          const victim = sim.activeDrivers().find((d) => d.state === 'RUNNING');
          if (!victim) return;
          sim.killDriverProcess(victim.id, 'FAILED');
          console.log(`${new Date().toISOString()} die-every: driver ${victim.id} (${victim.mainClass}) FAILED`);
        }, dieEvery * 1000);
      }
    },
    (err: unknown) => {
      console.error(`cannot start: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}

main();
