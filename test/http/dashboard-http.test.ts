/**
 * The dashboard's and the API reference's HTTP side, over a real socket: the pages and their
 * assets (self-contained, cached, open under protectReads), GET /api/v1/tenants and what
 * /openapi.json says of it and of the bearer token. The browser side is test/browser/.
 */
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DASHBOARD_ASSETS } from '../../src/http/dashboard/assets.js';
import { startUiDaemon, UI_TOKEN, type UiDaemon } from '../support/ui-daemon.js';
import { waitFor } from '../support/spark.js';

let d: UiDaemon;
const auth = { authorization: `Bearer ${UI_TOKEN}` };

beforeAll(async () => {
  d = await startUiDaemon({ extraTenants: ['XYZ'], protectReads: true });
});
afterAll(async () => {
  await d?.stop();
});

const get = (path: string, headers: Record<string, string> = {}) => fetch(d.url + path, { headers });

describe('pages and assets', () => {
  it('serves the dashboard and its assets without the token (they hold no data), with a self-only CSP', async () => {
    const page = await get('/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'; script-src 'self'; style-src 'self'/);
    const html = await page.text();
    for (const src of html.matchAll(/(?:src|href)="([^"]+)"/g)) {
      const ref = src[1]!;
      if (ref.startsWith('#') || ref.startsWith('data:')) continue;
      expect(ref.startsWith('/'), ref).toBe(true);
      expect((await get(ref)).status, ref).toBe(200);
    }
    for (const path of Object.keys(DASHBOARD_ASSETS)) {
      const text = await (await get(path)).text();
      // Nothing from elsewhere: the only absolute URL is the SVG namespace.
      expect(text.replaceAll('http://www.w3.org/2000/svg', '').match(/https?:\/\//g), path).toBeNull();
    }
    // Data is not open: the summary needs the token under protectReads.
    expect((await get('/api/v1/tenants')).status).toBe(401);
    expect((await get('/api/v1/tenants', auth)).status).toBe(200);
  });

  it('answers a repeated asset request with 304 and sends gzip when asked', async () => {
    const first = await get('/dashboard/tenant.js');
    const etag = first.headers.get('etag')!;
    expect(etag).toBeTruthy();
    expect((await get('/dashboard/tenant.js', { 'if-none-match': etag })).status).toBe(304);
    // fetch decompresses by itself; node:http's raw bytes show the encoding.
    const raw = await rawGet('/docs/assets/swagger-ui-bundle.js', { 'accept-encoding': 'gzip' });
    expect(raw.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(raw.body).toString('utf8')).toContain('SwaggerUIBundle');
    expect(raw.body.length).toBeLessThan(600_000);
  });

  it('serves Swagger UI from swagger-ui-dist at /docs, on /openapi.json, without the validator badge', async () => {
    const page = await get('/docs');
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('/docs/assets/swagger-ui-bundle.js');
    expect(html).not.toMatch(/https?:\/\//);
    const init = await (await get('/docs/assets/init.js')).text();
    expect(init).toContain("url: '/openapi.json'");
    expect(init).toContain('validatorUrl: null');
    expect((await get('/docs/assets/swagger-ui.css')).status).toBe(200);
    expect((await get('/docs/assets/package.json')).status).toBe(404);
    expect((await get('/docs/assets/..%2Fpackage.json')).status).toBe(404);
  });
});

describe('GET /api/v1/tenants', () => {
  it('gives every tenant at a glance: lease, master, driver, restarts, services, discovery, delay history', async () => {
    const data = await waitFor(async () => {
      const body = (await (await get('/api/v1/tenants', auth)).json()) as { data: any };
      const abc = body.data.tenants[0];
      return abc.spark?.driver?.state === 'RUNNING' && abc.delay.at && abc.discovery.lastSync && abc.services.known === 3 ? body.data : undefined;
    }, 'a running driver, a delay sample and a discovery sync of ABC');
    expect(data.auth).toEqual({ postsNeedToken: true, readsNeedToken: true });
    expect(data.tenants.map((t: any) => t.tenant)).toEqual(['ABC', 'XYZ']);
    const abc = data.tenants[0];
    expect(abc.lease).toEqual({ mode: 'single-process', holder: null, isThisProcess: true, validUntil: null });
    expect(abc.spark).toMatchObject({ masterStatus: 'ALIVE', aliveDrivers: 1, restarts: 0, crashLoop: { looping: false } });
    expect(abc.spark.driver.id).toBe(await d.aliveDriver());
    expect(abc.spark.lastSubmission).toMatchObject({ reason: expect.any(String) });
    expect(abc.discovery.lastSync.onboarded + abc.discovery.lastSync.present).toBe(3);
    expect(abc.delay.minutes).toBeGreaterThanOrEqual(1);
    expect(abc.delay.minutes).toBeLessThanOrEqual(4);
    expect(abc.delay.history.minutes).toHaveLength(90);
    // The latest sample sits in its own bucket: the last one, or the one before when a bucket began since.
    const { bucketMs, until, minutes: history } = abc.delay.history;
    const bucketsAgo = (Date.parse(until) - bucketMs - Math.floor(Date.parse(abc.delay.at) / bucketMs) * bucketMs) / bucketMs;
    expect(bucketsAgo).toBeGreaterThanOrEqual(0);
    expect(bucketsAgo).toBeLessThanOrEqual(1);
    expect(history.at(-1 - bucketsAgo)).toBe(abc.delay.minutes);
    if (bucketsAgo === 1) expect(history.at(-1)).toBeNull();
    // XYZ has no sample service: no delay, no history.
    expect(data.tenants[1].delay).toMatchObject({ minutes: null, at: null });

    const one = (await (await get('/api/v1/tenants?tenant=XYZ', auth)).json()) as { data: any };
    expect(one.data.tenants.map((t: any) => t.tenant)).toEqual(['XYZ']);
    const unknown = await get('/api/v1/tenants?tenant=NOPE', auth);
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as any).error.code).toBe('INVALID_TENANT');
  });

  it('GET /api/v1/events/recent: the tenant’s last notable events, for a page opened now', async () => {
    const res = await get('/api/v1/events/recent?tenant=ABC', auth);
    expect(res.status).toBe(200);
    const { data } = (await res.json()) as { data: { tenant: string; events: { type: string; tenant: string; at: number }[] } };
    expect(data.tenant).toBe('ABC');
    expect(data.events.map((e) => e.type)).toContain('spark.submitted');
    expect(data.events.every((e) => e.tenant === 'ABC' && e.type !== 'delay.sampled')).toBe(true);
    expect(data.events.map((e) => e.at)).toEqual([...data.events.map((e) => e.at)].sort((a, b) => a - b));
    expect((await get('/api/v1/events/recent?tenant=NOPE', auth)).status).toBe(400);
    expect((await get('/api/v1/events/recent', auth)).status).toBe(400);
  });

  it('is described in /openapi.json, with the bearer scheme on POSTs and data GETs', async () => {
    const doc = (await (await get('/openapi.json')).json()) as any;
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.paths['/monitor-spark-job'].post.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.paths['/api/v1/tenants'].get.security).toEqual([{}, { bearerAuth: [] }]);
    expect(doc.paths['/healthcheck'].get.security).toEqual([]);
    expect(doc.paths['/'].get.security).toEqual([]);
    const schema = doc.paths['/api/v1/tenants'].get.responses['200'].content['application/json'].schema;
    expect(JSON.stringify(schema)).toContain('#/components/schemas/Tenants');
    expect(doc.paths['/api/v1/events/recent'].get.parameters).toEqual([expect.objectContaining({ in: 'query', name: 'tenant', required: true })]);
    expect(Object.keys(doc.components.schemas.TenantSummary.properties)).toEqual(['tenant', 'lease', 'spark', 'services', 'discovery', 'delay', 'lastRetry']);
  });
});

async function rawGet(path: string, headers: Record<string, string>): Promise<{ headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  const http = await import('node:http');
  return new Promise((resolve, reject) => {
    http
      .get(d.url + path, { headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}
