import type { TenantSummary, TenantsData } from '../../http/tenants-schema.js';
import type { DaemonClient } from '../daemon-client.js';
import { duration, table, type Cell, type Style } from '../output.js';

/** `logwise status`: GET /api/v1/tenants as a table (or its data as JSON). */
export async function status(client: DaemonClient, opts: { tenant?: string; json: boolean; style: Style; out: (s: string) => void }): Promise<void> {
  const query = opts.tenant ? `?tenant=${encodeURIComponent(opts.tenant)}` : '';
  const data = await client.get<TenantsData>(`/api/v1/tenants${query}`);
  if (opts.json) return opts.out(JSON.stringify(data, null, 2));
  const now = Date.parse(data.generatedAt);
  const header = ['TENANT', 'LEASE', 'MASTER', 'DRIVER', 'STATE', 'UPTIME', 'RESTARTS', 'DELAY', 'SERVICES'];
  opts.out(
    table(
      header,
      data.tenants.map((t) => row(t, now, opts.style)),
      opts.style,
    ),
  );
}

function row(t: TenantSummary, now: number, style: Style): Cell[] {
  const s = t.spark;
  const d = s?.driver ?? null;
  const alive = d !== null && (d.state === 'RUNNING' || d.state === 'SUBMITTED');
  const state = d === null ? 'none' : d.state;
  const stateShow = state === 'RUNNING' ? style.green : state === 'SUBMITTED' ? style.cyan : style.red;
  const master = s?.masterStatus ?? '-';
  const delay = t.delay.at === null ? '-' : t.delay.minutes === null ? 'failed' : `${t.delay.minutes} min`;
  const delayShow =
    t.delay.minutes === null
      ? t.delay.at === null
        ? style.dim
        : style.red
      : t.delay.minutes < 5
        ? style.green
        : t.delay.minutes < 15
          ? style.yellow
          : style.red;
  return [
    t.tenant,
    leaseOf(t.lease),
    { text: master, show: master === 'ALIVE' ? style.green : master === '-' ? style.dim : style.red },
    d?.id ?? '-',
    { text: s?.crashLoop.looping ? `${state} (crash-loop)` : state, show: stateShow },
    alive && d.startedAt ? duration(now - Date.parse(d.startedAt)) : '-',
    s ? String(s.restarts) : '-',
    { text: delay, show: delayShow },
    t.services.known === null ? '?' : String(t.services.known),
  ];
}

function leaseOf(lease: TenantSummary['lease']): string {
  if (lease.mode === 'single-process') return 'this process';
  if (lease.isThisProcess) return 'this replica';
  return lease.holder ?? 'none';
}
