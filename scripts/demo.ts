/**
 * `npm run demo`: the orchestrator on conf/demo.conf, a Spark master simulator whose driver dies
 * now and then, and a generator writing minute partitions for a few services into the local
 * object store. Watch the pretty logs, or in another terminal:
 *
 *   curl -N localhost:8080/api/v1/events
 *
 * Runs until Ctrl-C, or for `--seconds N`. `--real` runs the real pipeline instead
 * (scripts/demo-real.ts: Kafka, Spark, Ceph, a streaming job and a producer).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { SparkMasterSimulator } from '../test/spark-sim/master-simulator.js';

const { values } = parseArgs({
  options: { seconds: { type: 'string' }, 'die-every': { type: 'string', default: '20' }, real: { type: 'boolean', default: false } },
  strict: true,
});
const root = 'data/demo';
const store = join(root, 'object-store');
const SERVICES = [
  ['prod', 'checkout'],
  ['prod', 'payments'],
  ['prod', 'search'],
  ['stag', 'checkout'],
  ['stag', 'inventory'],
] as const;

const say = (line: string) => process.stdout.write(`\x1b[36m[demo]\x1b[0m ${line}\n`);
const pad = (n: number) => String(n).padStart(2, '0');

/** One part file in the minute partition of `at` for every service (as the Spark job writes them). */
function writeMinute(at: Date, services: readonly (readonly [string, string])[]): void {
  for (const [env, service] of services) {
    const folder = join(
      store,
      `logs/env=${env}/service_name=${service}/component_name=application`,
      `year=${at.getUTCFullYear()}/month=${pad(at.getUTCMonth() + 1)}/day=${pad(at.getUTCDate())}/hour=${pad(at.getUTCHours())}/minute=${pad(at.getUTCMinutes())}`,
    );
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'part-00000.parquet'), 'demo');
  }
}

async function main(): Promise<void> {
  rmSync(root, { recursive: true, force: true });
  mkdirSync(dirname(join(root, 'x')), { recursive: true });

  const sim = new SparkMasterSimulator({ uiPort: 8081, restPort: 6066, killDelayMs: 1000, workers: [{ cores: 4, memoryMb: 8192 }] });
  await sim.start();
  say(`Spark master simulator on ${sim.uiUrl} (REST ${sim.restUrl})`);

  // Start 40 minutes behind: the first samples show a large delay, then it falls as the
  // generator catches up to the present.
  let lag = 40;
  writeMinute(new Date(Date.now() - lag * 60_000), SERVICES.slice(0, 2));
  say('wrote logs for 2 services, 40 minutes old; more services appear as the demo runs');

  const orchestrator = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--config', 'conf/demo.conf'], {
    stdio: 'inherit',
    env: { ...process.env, LOG_FORMAT: process.env.LOG_FORMAT ?? 'pretty', LOG_LEVEL: process.env.LOG_LEVEL ?? 'info' },
  });

  let tick = 0;
  const generator = setInterval(() => {
    tick += 1;
    lag = Math.max(0, lag - 8);
    const visible = SERVICES.slice(0, Math.min(SERVICES.length, 2 + Math.floor(tick / 2)));
    writeMinute(new Date(Date.now() - lag * 60_000), visible);
  }, 4000);

  const dieEverySeconds = Number(values['die-every']);
  const killer = setInterval(() => {
    const running = sim.activeDrivers().find((d) => d.state === 'RUNNING');
    if (running) {
      say(`the driver ${running.id} dies (FAILED) — the orchestrator should resubmit within a poll`);
      sim.killDriverProcess(running.id, 'FAILED');
    }
  }, dieEverySeconds * 1000);

  let stopping = false;
  const stop = (code: number) => {
    if (stopping) return;
    stopping = true;
    clearInterval(generator);
    clearInterval(killer);
    orchestrator.kill('SIGTERM');
    orchestrator.once('exit', (status) => {
      void sim.stop().then(() => process.exit(code || (status ?? 0)));
    });
  };
  process.on('SIGINT', () => stop(0));
  process.on('SIGTERM', () => stop(0));
  orchestrator.once('exit', (status) => {
    if (!stopping) {
      say(`the orchestrator exited (${status}); stopping`);
      stopping = true;
      clearInterval(generator);
      clearInterval(killer);
      void sim.stop().then(() => process.exit(status ?? 1));
    }
  });
  if (values.seconds) setTimeout(() => stop(0), Number(values.seconds) * 1000);
  say('orchestrator starting on http://localhost:8080 — try: curl -N localhost:8080/api/v1/events');
}

if (values.real) {
  void import('./demo-real.js').then((m) => m.runRealDemo(values.seconds === undefined ? undefined : Number(values.seconds)));
} else {
  void main();
}
