import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { createApp } from '../../src/http/app.js';
import { route } from '../../src/http/route.js';
import { createLogger } from '../../src/log.js';
import { ReloadableRedactor } from '../../src/reloadable-redactor.js';
import { Redactor } from '../../src/secrets.js';

/** The shell serializes a frozen answer once; what it sends must still be masked with the secrets of the moment. */
describe('frozen answers', () => {
  const redactor = new ReloadableRedactor(new Redactor(['env-secret-1234']));
  const answers: Record<string, unknown> = {
    plain: Object.freeze({ tenant: 'ABC', note: 'quotes s3cr3t-from-reload in a nested list', minutes: 5 }),
    nested: Object.freeze({ checks: Object.freeze([Object.freeze({ message: 'login with s3cr3t-from-reload failed' })]) }),
    env: Object.freeze({ message: 'env-secret-1234 in an old error' }),
  };
  const app = createApp({
    routes: [
      route({
        method: 'get',
        paths: ['/answer/:name'],
        summary: 'a frozen answer',
        tenant: false,
        response: { description: 'the answer' },
        handle: ({ c }) => ({ data: answers[c.req.param('name') ?? ''] }),
      }),
    ],
    tenants: new Set(['ABC']),
    redactor,
    log: createLogger({ redactor, level: 'silent' }),
  });
  const body = async (name: string) => (await app.request(`/answer/${name}`)).json();

  it('answers the same bytes while nothing in them is secret, and masks a secret a reload added', async () => {
    expect(await body('plain')).toEqual({ data: { tenant: 'ABC', note: 'quotes s3cr3t-from-reload in a nested list', minutes: 5 } });
    expect(await body('nested')).toEqual({ data: { checks: [{ message: 'login with s3cr3t-from-reload failed' }] } });

    redactor.learn({ database: { password: 's3cr3t-from-reload' } } as unknown as Config);
    expect(await body('plain')).toEqual({ data: { tenant: 'ABC', note: 'quotes [redacted] in a nested list', minutes: 5 } });
    expect(await body('nested')).toEqual({ data: { checks: [{ message: 'login with [redacted] failed' }] } });
  });

  it('masks a secret known from the start in a frozen answer', async () => {
    expect(await body('env')).toEqual({ data: { message: '[redacted] in an old error' } });
    expect(await body('env')).toEqual({ data: { message: '[redacted] in an old error' } });
  });
});
