/**
 * The dashboard and the API reference in a real browser (Debian's Chromium, playwright-core)
 * against a daemon on a real port that supervises the Spark master simulator. Screenshots go
 * to test-artifacts/ (git-ignored).
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, openPage, screenshot, type WatchedPage } from '../support/browser.js';
import { waitFor } from '../support/spark.js';
import { startUiDaemon, UI_TOKEN, type UiDaemon } from '../support/ui-daemon.js';

let d: UiDaemon;
let browser: Browser;
const opened: WatchedPage[] = [];

beforeAll(async () => {
  [d, browser] = await Promise.all([startUiDaemon({ extraTenants: ['XYZ', 'payments-eu'] }), launchChromium()]);
});
afterAll(async () => {
  await browser?.close();
  await d?.stop();
});

async function open(path: string, viewport?: { width: number; height: number }): Promise<Page> {
  const watched = await openPage(browser, d.url, viewport);
  opened.push(watched);
  await watched.page.goto(d.url + path);
  return watched.page;
}

/** Every page opened so far made no request outside the daemon and reported no error. */
function expectCleanPages(): void {
  for (const w of opened) {
    expect(w.outside, 'requests outside the daemon').toEqual([]);
    expect(w.errors, 'page errors').toEqual([]);
  }
}

const rowText = (page: Page, tenant: string) => page.locator(`tr[data-tenant="${tenant}"]`).innerText();

describe('the dashboard', () => {
  it('shows every tenant with its driver, and follows a driver killed and resubmitted without a reload', async () => {
    const first = await d.aliveDriver();
    const page = await open('/');
    await waitFor(async () => (await rowText(page, 'ABC')).includes(first), `ABC's driver ${first} on the page`);
    const row = await rowText(page, 'ABC');
    expect(row).toContain('RUNNING');
    expect(row).toContain('ALIVE');
    for (const tenant of ['XYZ', 'payments-eu']) await waitFor(async () => (await rowText(page, tenant)).includes('RUNNING'), `${tenant}'s driver RUNNING`);
    // The delay and the pipeline health arrive too (ABC has a sample service, Vector and Kafka).
    await waitFor(async () => /\d+ min/.test(await rowText(page, 'ABC')) && (await rowText(page, 'ABC')).includes('UP'), 'ABC delay and health');

    await page.evaluate('window.marker = 42');
    d.sim.killDriverProcess(first, 'FAILED');
    const second = await waitFor(async () => {
      const id = await d.aliveDriver();
      return id !== first ? id : undefined;
    }, 'the daemon resubmitting');
    // Live: the event stream brings the change; the page was not reloaded (the marker survives).
    await waitFor(async () => (await rowText(page, 'ABC')).includes(second), `the new driver ${second} on the page`);
    const after = await page.locator('tr[data-tenant="ABC"] td[data-label="Restarts"]').innerText();
    expect(after.trim()).toBe('1');
    expect(await page.evaluate('window.marker')).toBe(42);
    expect(await page.locator('#conn').innerText()).toBe('live');
    await screenshot(page, 'dashboard-overview.png');

    // A phone: one card per tenant, nothing wider than the screen.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(200);
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    expect(await page.evaluate("getComputedStyle(document.querySelector('tr[data-tenant=ABC]')).display")).toBe('block');
    await screenshot(page, 'dashboard-phone.png');
    expectCleanPages();
  });

  it('runs the actions from a tenant page with the token, asked once, and shows its events live', async () => {
    const page = await open('/#/tenant/ABC');
    // The keyboard reaches the skip link first, and it leads to the content.
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Skip to content');
    await page.locator('ol.timeline li').first().waitFor();
    expect(await page.locator('main h2').innerText()).toContain('ABC');
    // What happened before the page opened is there too (the resubmission of the test above).
    await waitFor(async () => (await page.locator('ol.timeline').innerText()).includes('spark.submitted'), 'earlier events in the timeline');

    // Sync: the token is asked for first (POSTs need it), then the sync runs.
    await page.getByRole('button', { name: 'Sync now' }).click();
    await page.locator('#token-dialog').waitFor();
    await page.getByLabel('Token', { exact: true }).fill(UI_TOKEN);
    await page.getByRole('button', { name: 'Use token' }).click();
    await waitFor(
      async () => (await page.locator('#action-result').innerText()).includes('Successfully synced componentType: application for tenant: ABC'),
      'the sync result',
    );
    expect(await page.evaluate("[sessionStorage.getItem('logwise.token'), localStorage.length]")).toEqual([UI_TOKEN, 0]);

    // Monitor with overrides: no dialog any more (the token is kept in the tab).
    await page.getByLabel('Driver cores').fill('2');
    await page.getByLabel('Driver memory (GB)').fill('3');
    await page.getByRole('button', { name: 'Monitor now' }).click();
    await waitFor(
      async () => (await page.locator('#action-result').innerText()).includes('Successfully monitored the spark job for tenant: ABC'),
      'the monitor result',
    );
    expect(await page.locator('#token-dialog').isVisible()).toBe(false);

    // Replay from a time picked on the page (confirmed), recorded by the daemon and shown pending or running.
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByLabel('Replay Kafka from').fill('2026-01-02T03:04');
    await page.getByLabel('Back to normal at').fill('2026-01-02T05:04');
    await page.getByRole('button', { name: 'Schedule replay' }).click();
    await waitFor(async () => /Replay #\d+ recorded/.test(await page.locator('#action-result').innerText()), 'the replay result');
    const appArgs = (body: unknown) => (body as { appArgs?: string[] } | undefined)?.appArgs ?? [];
    const replay = await waitFor(
      () => d.sim.createRequests.find((r) => appArgs(r.body).some((a) => a.startsWith('kafka.startingOffsetsTimestamp='))),
      'the replay submission',
      10_000,
    );
    // The page's local time, as the browser reads the picker (the test runs it in this process's zone).
    expect(appArgs(replay.body)).toContain(`kafka.startingOffsetsTimestamp=${new Date(2026, 0, 2, 3, 4).getTime()}`);
    await waitFor(async () => (await page.locator('ol.timeline').innerText()).includes('spark.replay-started'), 'spark.replay-started in the timeline');

    // Every form control has a label.
    const unlabelled = await page.evaluate(
      "[...document.querySelectorAll('input, select')].filter((el) => el.labels.length === 0 && !el.getAttribute('aria-label')).map((el) => el.id)",
    );
    expect(unlabelled).toEqual([]);
    await screenshot(page, 'dashboard-tenant.png');
    expectCleanPages();
  });
});

describe('the API reference', () => {
  it('renders /openapi.json with Swagger UI, and try-it-out works with the bearer token', async () => {
    const page = await open('/docs');
    await page.locator('.opblock').first().waitFor();
    expect(await page.locator('.opblock').count()).toBeGreaterThan(10);
    expect(await page.locator('.info .title').innerText()).toContain('logwise-orchestrator');

    await page.locator('button.authorize').click();
    await page.locator('.auth-container input').fill(UI_TOKEN);
    await page.locator('.auth-btn-wrapper button.authorize').click();
    await page.locator('button.btn-done').click();

    const op = page.locator('.opblock-post', { has: page.locator('[data-path="/monitor-spark-job"]') });
    await op.locator('.opblock-summary').click();
    await op.locator('button.try-out__btn').click();
    await op.locator('input[placeholder="x-tenant-name"]').fill('ABC');
    await op.locator('button.execute').click();
    const status = op.locator('.live-responses-table tbody .response-col_status').first();
    await status.waitFor();
    expect((await status.innerText()).trim()).toBe('200');
    expect(await op.locator('.live-responses-table').innerText()).toContain('Successfully monitored the spark job for tenant: ABC');
    await screenshot(page, 'docs.png');
    expectCleanPages();
  });
});
