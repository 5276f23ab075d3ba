import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { filter, type Observable } from 'rxjs';
import type { OrchestratorEvent } from '../../streams/events.js';
import type { Metrics } from '../metrics.js';
import type { Redactor } from '../secrets.js';

export interface EventStreamOptions {
  events$: Observable<OrchestratorEvent>;
  redactor: Redactor;
  metrics: Metrics;
  /** A comment line this often keeps proxies from closing an idle stream. */
  heartbeatMs?: number;
  /** Events held for one client; past this a slow client loses events (counted), never slows the loop. */
  bufferSize?: number;
}

/**
 * `GET /api/v1/events`: the loop's events as Server-Sent Events, optionally filtered by
 * tenant and by type prefix. The loop only ever appends to a client's bounded buffer; a
 * separate writer drains it at the client's pace.
 */
export function eventStream(opts: EventStreamOptions) {
  const heartbeatMs = opts.heartbeatMs ?? 15_000;
  const bufferSize = opts.bufferSize ?? 1000;
  return (query: { tenant?: string; type?: string }, c: Context): Response =>
    streamSSE(c, async (stream) => {
      const buffer: OrchestratorEvent[] = [];
      let wake: (() => void) | undefined;
      let dropped = 0;
      const subscription = opts.events$
        .pipe(filter((e) => (!query.tenant || e.tenant === query.tenant) && (!query.type || e.type.startsWith(query.type))))
        .subscribe((event) => {
          if (buffer.length >= bufferSize) {
            dropped += 1;
            opts.metrics.sseDropped.inc();
            return;
          }
          buffer.push(event);
          wake?.();
        });
      opts.metrics.sseClients.inc();
      let open = true;
      stream.onAbort(() => {
        open = false;
        wake?.();
      });
      try {
        await stream.write(': connected\n\n');
        while (open && !stream.aborted) {
          if (buffer.length === 0) {
            let timer: NodeJS.Timeout | undefined;
            const woken = await new Promise<boolean>((resolve) => {
              wake = () => resolve(true);
              timer = setTimeout(() => resolve(false), heartbeatMs);
            });
            clearTimeout(timer);
            wake = undefined;
            if (!woken && open) await stream.write(dropped ? `: heartbeat (${dropped} events dropped)\n\n` : ': heartbeat\n\n');
            continue;
          }
          const event = buffer.shift()!;
          await stream.writeSSE({ event: event.type, data: opts.redactor.scrub(JSON.stringify(event)) });
        }
      } finally {
        subscription.unsubscribe();
        opts.metrics.sseClients.dec();
      }
    });
}
