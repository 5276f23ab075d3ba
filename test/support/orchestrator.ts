import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createLogger } from '../../src/log.js';
import { Orchestrator } from '../../src/orchestrator.js';
import { Redactor } from '../../src/secrets.js';
import type { TenantStreamsFactory } from '../../streams/ports.js';

/** Captures every log line an orchestrator writes, for assertions. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  }
  get text(): string {
    return this.lines.join('\n');
  }
}

export interface TestOrchestrator {
  orchestrator: Orchestrator;
  config: Config;
  logs: LogCapture;
  dir: string;
  stop(): Promise<void>;
}

/**
 * An orchestrator on a temp SQLite file and local store, from HOCON text for its tenants
 * and settings. `{{dir}}` in the text is replaced by the temp directory.
 */
export async function startTestOrchestrator(
  hocon: string,
  opts: {
    streams?: TenantStreamsFactory;
    listen?: boolean;
    config?: (c: Config) => Config;
    /** Keep timer ticks out of the test: first ticks only at the end of their (long) interval. */
    quietTicks?: boolean;
  } = {},
): Promise<TestOrchestrator> {
  const dir = mkdtempSync(join(tmpdir(), 'lw-orch-'));
  let config = await parseConfig(
    `http { port = 0, host = "127.0.0.1" }\ndatabase { client = sqlite, filename = "${dir}/db.sqlite" }\n${hocon.replaceAll('{{dir}}', dir)}`,
  );
  if (opts.config) config = opts.config(config);
  const logs = new LogCapture();
  const redactor = Redactor.fromConfig(config, {});
  const log = createLogger({ level: 'debug', redactor, destination: logs });
  const orchestrator = new Orchestrator({
    config,
    log,
    redactor,
    listen: opts.listen ?? false,
    ...(opts.streams ? { streams: opts.streams } : {}),
    ...(opts.quietTicks ? { firstTickSpreadMs: Number.POSITIVE_INFINITY, random: () => 0.999999 } : {}),
  });
  await orchestrator.start();
  return {
    orchestrator,
    config,
    logs,
    dir,
    stop: async () => {
      await orchestrator.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const oneTenant = (name = 'ABC', extra = '') => `
tenants = [{
  name = "${name}"
  objectStore.local.path = "{{dir}}/store"
  kafka.kafkaBrokersHost = "127.0.0.1:1"
  spark { sparkMasterHost = "127.0.0.1", sparkMasterWebUiPort = 1, sparkMasterRestPort = 1, sparkJarPath = "file:///app.jar" }
  ${extra}
}]`;
