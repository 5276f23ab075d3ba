import type { Context, Hono } from 'hono';
import { selfOnlyCsp, sendAsset, staticAsset, type StaticAsset } from '../static-asset.js';
import { API_JS } from './client-api.js';
import { APP_JS } from './client-app.js';
import { OVERVIEW_JS } from './client-overview.js';
import { TENANT_JS } from './client-tenant.js';
import { VIEW_JS } from './client-view.js';
import { DASHBOARD_HTML } from './page.js';
import { DASHBOARD_CSS } from './styles.js';

/** The operators' dashboard: `GET /` and its scripts and stylesheet under /dashboard/ (no external asset). */
const JS = 'text/javascript; charset=utf-8';
const page = staticAsset(DASHBOARD_HTML, 'text/html; charset=utf-8', {
  'content-security-policy': selfOnlyCsp(),
  'referrer-policy': 'no-referrer',
});

export const DASHBOARD_ASSETS: Readonly<Record<string, StaticAsset>> = {
  '/dashboard/app.js': staticAsset(APP_JS, JS),
  '/dashboard/api.js': staticAsset(API_JS, JS),
  '/dashboard/view.js': staticAsset(VIEW_JS, JS),
  '/dashboard/overview.js': staticAsset(OVERVIEW_JS, JS),
  '/dashboard/tenant.js': staticAsset(TENANT_JS, JS),
  '/dashboard/app.css': staticAsset(DASHBOARD_CSS, 'text/css; charset=utf-8'),
};

export function dashboardPage(c: Context): Response {
  return sendAsset(c, page);
}

/** Registers the dashboard's assets (not API routes: they stay out of /openapi.json). */
export function mountDashboardAssets(app: Hono): void {
  for (const [path, asset] of Object.entries(DASHBOARD_ASSETS)) app.get(path, (c) => sendAsset(c, asset));
}
