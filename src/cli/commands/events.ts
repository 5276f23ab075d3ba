import { DaemonError, errorOf, type DaemonClient } from '../daemon-client.js';
import { clock, type Style } from '../output.js';
import { sleep } from '../../common/sleep.js';

export interface EventsOptions {
  tenant?: string;
  type?: string;
  json: boolean;
  style: Style;
  out: (line: string) => void;
  /** Connection notes (connected, reconnecting): on stderr, so stdout holds events only. */
  note: (line: string) => void;
  /** Aborted on Ctrl-C: the tail ends without an error. */
  signal: AbortSignal;
  /** First and largest wait before reconnecting. */
  backoffMs?: { min: number; max: number };
}

/**
 * `logwise events`: a live tail of GET /api/v1/events, one line per event. A dropped connection
 * or an unreachable daemon is retried with backoff, forever; a refusal (401, unknown tenant) ends it.
 */
export async function events(client: DaemonClient, opts: EventsOptions): Promise<void> {
  const params = new URLSearchParams();
  if (opts.tenant) params.set('tenant', opts.tenant);
  if (opts.type) params.set('type', opts.type);
  const query = params.toString();
  const path = `/api/v1/events${query ? `?${query}` : ''}`;
  // The stream itself takes any name: an unknown tenant would tail nothing, silently.
  if (opts.tenant) await checkTenant(client, opts.tenant);
  const backoff = opts.backoffMs ?? { min: 500, max: 10_000 };
  let wait = backoff.min;
  let connectedBefore = false;
  while (!opts.signal.aborted) {
    try {
      const res = await client.fetch(path, { headers: client.headers(undefined, 'text/event-stream'), signal: opts.signal });
      if (res.status >= 400 && res.status < 500) throw errorOf(res.status, await errorBody(res));
      if (!res.ok || !res.body) throw new DaemonError(`${res.status}`, res.status, `HTTP_${res.status}`);
      opts.note(`${connectedBefore ? 'reconnected to' : 'following'} ${client.url}${path}`);
      connectedBefore = true;
      wait = backoff.min;
      await readEvents(res.body, (event) => opts.out(opts.json ? JSON.stringify(event) : formatEvent(event, opts.style)));
      if (opts.signal.aborted) return;
      opts.note(`the event stream ended; reconnecting in ${seconds(wait)}`);
    } catch (err) {
      if (opts.signal.aborted) return;
      if (err instanceof DaemonError && err.status >= 400 && err.status < 500) throw err;
      opts.note(`${err instanceof DaemonError ? err.message : (err as Error).message}; retrying in ${seconds(wait)}`);
    }
    await sleep(wait, opts.signal);
    wait = Math.min(wait * 2, backoff.max);
  }
}

/** Refused (400 INVALID_TENANT, 401) ends the command; an unreachable daemon is left to the reconnecting loop. */
async function checkTenant(client: DaemonClient, tenant: string): Promise<void> {
  try {
    await client.get(`/api/v1/tenants?tenant=${encodeURIComponent(tenant)}`);
  } catch (err) {
    if (err instanceof DaemonError && err.status >= 400 && err.status < 500) throw err;
  }
}

async function errorBody(res: Response): Promise<{ code?: string; message?: string } | undefined> {
  try {
    return ((await res.json()) as { error?: { code?: string; message?: string } }).error;
  } catch {
    return undefined;
  }
}

/** Server-Sent Events: `data:` lines of each block (blocks end with a blank line); comments skipped. */
async function readEvents(body: ReadableStream<Uint8Array>, onEvent: (event: Record<string, unknown>) => void): Promise<void> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, '\n');
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).replace(/^ /, ''))
        .join('\n');
      if (!data) continue;
      try {
        onEvent(JSON.parse(data) as Record<string, unknown>);
      } catch {
        // Not JSON: not one of the daemon's events; skipped.
      }
    }
  }
}

/** `21:22:09.123  ABC  spark.submitted  submissionId=driver-… reason="no alive driver"`. */
export function formatEvent(event: Record<string, unknown>, style: Style): string {
  const type = String(event.type);
  const at = typeof event.at === 'number' ? clock(event.at) : '--:--:--.---';
  const fields = Object.entries(event)
    .filter(([k]) => k !== 'type' && k !== 'tenant' && k !== 'at')
    .map(([k, v]) => `${style.dim(`${k}=`)}${valueText(v)}`)
    .join(' ');
  return `${style.dim(at)}  ${String(event.tenant).padEnd(8)}  ${colourOf(type, style)(type.padEnd(22))}  ${fields}`.trimEnd();
}

function valueText(v: unknown): string {
  let text = typeof v === 'string' ? v : Array.isArray(v) ? v.join(',') : JSON.stringify(v);
  if (text.length > 200) text = `${text.slice(0, 197)}…`;
  return typeof v === 'string' && /[\s"=]/.test(text) ? JSON.stringify(text) : text;
}

function colourOf(type: string, style: Style): (s: string) => string {
  if (/failed|crashloop$|unreachable|lost$/.test(type)) return style.red;
  if (/retrying|guarded|waiting|split-brain$|renew/.test(type)) return style.yellow;
  if (/submitted|onboarded|acquired|resumed|replay-started|ended$|adopted/.test(type)) return style.green;
  return (s) => s;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(ms < 1000 ? 1 : 0)} s`;
