#!/usr/bin/env node
/**
 * `logwise`: the operators' command line (package.json `bin`, built to dist/src/cli/main.js).
 * Every failure is one line on stderr, never a stack trace: exit 1 when the daemon refused,
 * failed or was not reached, 2 for bad usage or an invalid config.
 */
import { parseInvocation, USAGE, UsageError, type Invocation } from './args.js';
import { DaemonClient, DaemonError } from './daemon-client.js';
import { styleFor } from './output.js';

async function run(inv: Invocation): Promise<number> {
  const { command, json } = inv;
  const out = (s: string) => void process.stdout.write(`${s}\n`);
  if (command.kind === 'help') {
    out(USAGE.trimEnd());
    return 0;
  }
  if (command.kind === 'config-check') {
    // Loaded here only: the HOCON parser and the schema are not needed by the other commands.
    const { checkConfig } = await import('./commands/config-check.js');
    const result = await checkConfig(command.file, process.env);
    if (json) out(JSON.stringify({ file: command.file, ...result }));
    else if (result.ok) out(`${command.file}: OK (${result.tenants.length} tenant${result.tenants.length === 1 ? '' : 's'}: ${result.tenants.join(', ')})`);
    else for (const line of result.problems) process.stderr.write(`config error: ${line}\n`);
    return result.ok ? 0 : 2;
  }
  const client = new DaemonClient(inv.url, process.env.ORCHESTRATOR_AUTH_TOKEN || undefined);
  const style = styleFor(process.stdout, process.env);
  switch (command.kind) {
    case 'status': {
      const { status } = await import('./commands/status.js');
      await status(client, { ...(command.tenant ? { tenant: command.tenant } : {}), json, style, out });
      return 0;
    }
    case 'events': {
      const { events } = await import('./commands/events.js');
      const stop = new AbortController();
      process.once('SIGINT', () => stop.abort());
      process.once('SIGTERM', () => stop.abort());
      const noteStyle = styleFor(process.stderr, process.env);
      await events(client, {
        ...(command.tenant ? { tenant: command.tenant } : {}),
        ...(command.type ? { type: command.type } : {}),
        json,
        style,
        out,
        note: (line) => void process.stderr.write(noteStyle.dim(`logwise: ${line}\n`)),
        signal: stop.signal,
      });
      return 0;
    }
    default: {
      const actions = await import('./commands/actions.js');
      if (command.kind === 'sync') await actions.sync(client, command.tenant, command.force, { json, out });
      else if (command.kind === 'monitor') {
        const { driverCores, driverMemoryInGb } = command;
        await actions.monitor(
          client,
          command.tenant,
          { ...(driverCores ? { driverCores } : {}), ...(driverMemoryInGb ? { driverMemoryInGb } : {}) },
          { json, out },
        );
      } else await actions.replay(client, command.tenant, command.from, command.resume, { json, out });
      return 0;
    }
  }
}

function fail(message: string, code: number): never {
  process.stderr.write(`logwise: ${message}\n`);
  process.exit(code);
}

// A reader that stopped reading (`logwise events | head`) ends the command, quietly.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
});

let invocation: Invocation;
try {
  invocation = parseInvocation(process.argv.slice(2), process.env);
} catch (err) {
  if (err instanceof UsageError) {
    process.stderr.write(`logwise: ${err.message}\n\n${USAGE}`);
    process.exit(2);
  }
  throw err;
}

run(invocation).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof DaemonError) fail(err.message, 1);
    fail(err instanceof Error ? err.message : String(err), 1);
  },
);
