import { describe, expect, it } from 'vitest';
import { createLogger, eventLogger, logEvent } from '../../src/log.js';
import { maskSecretKeys, Redactor } from '../../src/secrets.js';
import { LogCapture } from '../support/orchestrator.js';

describe('logs', () => {
  const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
  const redactor = new Redactor([secret, 'tok-123456', undefined, 'ab']);

  it('masks secret values anywhere in a line, including inside error messages', () => {
    const out = new LogCapture();
    const log = createLogger({ redactor, destination: out });
    log.error({ error: `request to http://x failed: Authorization=${secret}` }, `boom ${secret}`);
    log.info({ nested: { deeper: { note: `token tok-123456 used` } } }, 'ok');
    expect(out.text).not.toContain(secret);
    expect(out.text).not.toContain('tok-123456');
    expect(out.text).toContain('[redacted]');
    // Too short to scrub safely: left alone rather than garbling every line.
    log.info('ab ab');
    expect(out.lines.at(-1)).toContain('ab ab');
  });

  it('masks secret keys by name whatever their value', () => {
    const out = new LogCapture();
    const log = createLogger({ redactor: new Redactor([]), destination: out });
    log.info({ password: 'p1', spark: { awsSecretAccessKey: 'unknown-value', awsSessionToken: 'v2' }, authToken: 't3' }, 'config');
    const line = JSON.parse(out.lines[0]!) as Record<string, any>;
    expect(line.password).toBe('[redacted]');
    expect(line.authToken).toBe('[redacted]');
    expect(line.spark).toEqual({ awsSecretAccessKey: '[redacted]', awsSessionToken: '[redacted]' });
  });

  it('masks secret keys at any depth and inside arrays, leaves the logged object as it was, and keeps a lease token', () => {
    const out = new LogCapture();
    const log = createLogger({ redactor: new Redactor([]), destination: out });
    const logged = {
      tenants: [{ name: 'ABC', objectStore: { s3: { credentials: { secretAccessKey: 's1', accessKeyId: 'k1' } } } }, 'plain'],
      a: { b: { c: { d: { authorization: 'Bearer x' } } } },
      token: 42,
      sessionToken: null,
    };
    log.info(logged, 'deep');
    const line = JSON.parse(out.lines[0]!) as Record<string, any>;
    expect(line.tenants).toEqual([
      { name: 'ABC', objectStore: { s3: { credentials: { secretAccessKey: '[redacted]', accessKeyId: '[redacted]' } } } },
      'plain',
    ]);
    expect(line.a.b.c.d.authorization).toBe('[redacted]');
    expect(line.token).toBe(42);
    expect(line.sessionToken).toBe('[redacted]');
    // The caller's object is not changed.
    expect(logged.tenants[0]).toMatchObject({ objectStore: { s3: { credentials: { secretAccessKey: 's1' } } } });
    expect(logged.a.b.c.d.authorization).toBe('Bearer x');
  });

  it('maskSecretKeys returns the very object when no secret key is in it', () => {
    const event = { tenant: 'ABC', event: 'delay.sampled', appLogsDelayMinutes: 3, nested: { list: [1, { x: 'y' }] } };
    expect(maskSecretKeys(event)).toBe(event);
    const withSecret = { ...event, nested: { list: [1, { password: 'p' }] } };
    const masked = maskSecretKeys(withSecret);
    expect(masked).not.toBe(withSecret);
    expect(masked.nested.list[1]).toEqual({ password: '[redacted]' });
    expect(withSecret.nested.list[1]).toEqual({ password: 'p' });
  });

  it('LOG_FORMAT=pretty writes one line per event, its fields inline, secrets still masked', () => {
    const out = new LogCapture();
    const log = createLogger({ redactor, destination: out, level: 'info', format: 'pretty' });
    logEvent(log, { type: 'discovery.onboarded', tenant: 'ABC', at: 1, count: 2, services: ['prod/a/api', 'prod/b/api'] });
    logEvent(log, { type: 'stream.retrying', tenant: 'ABC', at: 2, stream: 'spark', attempt: 2, delayMs: 400, error: `refused ${secret}` });
    expect(out.lines).toHaveLength(2);
    expect(out.lines[0]).toMatch(/INFO.*discovery\.onboarded.*"tenant":"ABC".*"services":\["prod\/a\/api","prod\/b\/api"\]/);
    expect(out.lines[1]).toMatch(/stream\.retrying.*"attempt":2/);
    expect(out.text).not.toContain(secret);
  });

  it('logs a delay sample at info when the delay changed, at debug when it is the same as the last one', () => {
    const out = new LogCapture();
    const logEvents = eventLogger(createLogger({ redactor, destination: out, level: 'info' }));
    const sample = (tenant: string, minutes: number | null) =>
      logEvents({ type: 'delay.sampled', tenant, at: 1, appLogsDelayMinutes: minutes, newestPartition: null, listCalls: 1 } as never);
    sample('ABC', 3);
    sample('ABC', 3);
    sample('XYZ', 3);
    sample('ABC', 4);
    sample('ABC', 4);
    sample('ABC', null);
    const seen = out.lines.map((l) => JSON.parse(l) as { tenant: string; appLogsDelayMinutes: number | null });
    expect(seen.map((l) => [l.tenant, l.appLogsDelayMinutes])).toEqual([
      ['ABC', 3],
      ['XYZ', 3],
      ['ABC', 4],
      ['ABC', null],
    ]);
  });

  it('writes one JSON line per event with tenant, event type and its figures', () => {
    const out = new LogCapture();
    const log = createLogger({ redactor, destination: out, level: 'info' });
    logEvent(log, {
      type: 'discovery.synced',
      tenant: 'ABC',
      at: 1,
      onboarded: 3,
      removed: 1,
      present: 9,
      ignoredFolders: 0,
      listCalls: 4,
      retries: 0,
      durationMs: 12,
    });
    logEvent(log, { type: 'stream.retrying', tenant: 'ABC', at: 2, stream: 'spark', attempt: 2, delayMs: 400, error: 'refused' });
    logEvent(log, { type: 'spark.polled', tenant: 'ABC', at: 3, masterStatus: 'ALIVE', aliveDrivers: 1, action: 'none' });
    const lines = out.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(2); // spark.polled is debug
    expect(lines[0]).toMatchObject({ level: 'info', tenant: 'ABC', event: 'discovery.synced', onboarded: 3, removed: 1, durationMs: 12 });
    expect(lines[1]).toMatchObject({ level: 'warn', event: 'stream.retrying', attempt: 2, delayMs: 400 });
  });

  it('scrubs values deep inside objects for answers and events', () => {
    expect(redactor.scrubValue({ a: [`x ${secret} y`], password: 'p', ok: 1 })).toEqual({ a: ['x [redacted] y'], password: '[redacted]', ok: 1 });
  });
});
