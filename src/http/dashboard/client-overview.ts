/**
 * /dashboard/overview.js: every tenant at a glance. One GET /api/v1/tenants answers the table
 * (refreshed every 10 s, and soon after any event that changes what it shows); pipeline health
 * costs real checks per tenant, so it is asked for the first tenants shown only, a few at a
 * time, once a minute. Rows are updated in place so keyboard focus stays where it was.
 */
export const OVERVIEW_JS = String.raw`
import { request, streamEvents } from './api.js';
import { h, clear, badge, when, duration, stateTone, masterTone, healthTone, delayTone, sparkline } from './view.js';

const REFRESH_MS = 10000;
const HEALTH_EVERY_MS = 60000;
const HEALTH_MAX_TENANTS = 50;
const COLUMNS = ['Tenant', 'Lease', 'Master', 'Driver', 'Restarts', 'Last submission', 'Services', 'Last discovery', 'Delay', 'Health'];

export function overviewPage(main, app) {
  const rows = new Map();
  const health = new Map();
  let data = null;
  let skew = 0;
  let filter = '';
  const summary = h('p', { class: 'muted small', id: 'tenants-summary', 'aria-live': 'polite' }, 'Loading…');
  const problem = h('p', { role: 'alert', class: 'alert' });
  const tbody = h('tbody');
  const table = h('table', { class: 'tenants', 'aria-describedby': 'tenants-summary' },
    h('caption', { class: 'muted small' }, 'Tenants of this daemon; select a name for its events and actions.'),
    h('thead', {}, h('tr', {}, COLUMNS.map((c) => h('th', { scope: 'col' }, c)))),
    tbody);
  const search = h('input', { id: 'tenant-filter', type: 'search', placeholder: 'name…', oninput: () => { filter = search.value.trim().toLowerCase(); render(); } });
  clear(main,
    h('h2', {}, 'Tenants'),
    h('div', { class: 'toolbar' }, h('label', { for: 'tenant-filter' }, 'Filter tenants'), search, summary),
    problem,
    table);

  const now = () => Date.now() - skew;
  // Live regions speak on every change: text is replaced only when it differs.
  const say = (el, text) => { if (el.textContent !== text) el.textContent = text; };

  async function refresh() {
    const res = await request('/api/v1/tenants', { askToken: data === null });
    if (!res.ok) {
      say(problem, 'Could not read the tenants: ' + res.error.code + ': ' + res.error.message);
      return;
    }
    say(problem, '');
    data = res.data;
    skew = Date.now() - Date.parse(data.generatedAt);
    app.auth = data.auth;
    render();
  }

  function render() {
    if (!data) return;
    const shown = data.tenants.filter((t) => t.tenant.toLowerCase().includes(filter));
    const looping = data.tenants.filter((t) => t.spark && t.spark.crashLoop.looping).length;
    const noDriver = data.tenants.filter((t) => t.spark && t.spark.aliveDrivers === 0).length;
    say(summary, data.tenants.length + ' tenants' + (filter ? ', ' + shown.length + ' shown' : '') +
      (noDriver ? ' · ' + noDriver + ' without a driver' : '') + (looping ? ' · ' + looping + ' crash-looping' : '') +
      (data.replica ? ' · replica ' + data.replica : ''));
    const seen = new Set();
    for (const t of data.tenants) {
      seen.add(t.tenant);
      let row = rows.get(t.tenant);
      if (!row) {
        row = newRow(t.tenant);
        rows.set(t.tenant, row);
        tbody.append(row.tr);
      }
      row.tr.hidden = !shown.includes(t);
      fillRow(row, t);
    }
    for (const [name, row] of rows) if (!seen.has(name)) { row.tr.remove(); rows.delete(name); }
  }

  // Each cell's content sits in one div: on a phone the cell is a grid of its label and that div.
  function newRow(tenant) {
    const cells = COLUMNS.map(() => h('div'));
    const link = h('a', { class: 'tenant-link', href: '#/tenant/' + encodeURIComponent(tenant) }, tenant);
    const tds = COLUMNS.map((label, i) => (i === 0 ? h('th', { scope: 'row', 'data-label': label }, h('div', {}, link)) : h('td', { 'data-label': label }, cells[i])));
    return { tr: h('tr', { 'data-tenant': tenant }, tds), cells };
  }

  function fillRow(row, t) {
    const c = row.cells;
    const s = t.spark;
    const n = now();
    clear(c[1], leaseOf(t.lease));
    clear(c[2], s ? badge(s.masterStatus || 'unknown', masterTone(s.masterStatus)) : badge('no Spark stream', ''));
    clear(c[3], driverOf(s, n));
    clear(c[4], s ? [String(s.restarts), s.crashLoop.looping ? [' ', badge('crash-loop', 'bad', s.crashLoop.deathsInWindow + ' deaths in the window')] : null] : '—');
    clear(c[5], s && s.lastSubmission ? [when(s.lastSubmission.at, n), h('span', { class: 'sub' }, s.lastSubmission.reason)] : h('span', { class: 'muted' }, 'none'));
    clear(c[6], t.services.known === null ? h('span', { class: 'muted' }, 'unknown') : String(t.services.known));
    const d = t.discovery;
    const failedLast = d.lastFailure && (!d.lastSync || d.lastFailure.at > d.lastSync.at);
    clear(c[7], d.lastSync ? when(d.lastSync.at, n) : h('span', { class: 'muted' }, 'not yet'), failedLast ? [' ', badge('failed', 'bad', d.lastFailure.error)] : null);
    const minutes = t.delay.minutes;
    clear(c[8],
      t.delay.at ? badge(minutes === null ? 'failed' : minutes + ' min', delayTone(minutes)) : h('span', { class: 'muted' }, 'not sampled'),
      t.delay.at ? sparkline(t.delay.history.minutes, t.delay.history.bucketMs, 120, 22) : null);
    const hc = health.get(t.tenant);
    clear(c[9], hc ? badge(hc.status, healthTone(hc.status), hc.title) : h('span', { class: 'muted' }, '…'));
  }

  function leaseOf(lease) {
    if (lease.mode === 'single-process') return h('span', { title: 'SQLite: this process acts for every tenant' }, 'this process');
    if (lease.isThisProcess) return [badge('this replica', 'ok'), h('span', { class: 'sub mono' }, lease.holder)];
    if (lease.holder) return h('span', { class: 'mono', title: 'acts for this tenant' }, lease.holder);
    return badge('no holder', 'warn');
  }

  function driverOf(s, n) {
    if (!s || !s.driver) return h('span', { class: 'muted' }, 'none');
    const d = s.driver;
    const alive = d.state === 'RUNNING' || d.state === 'SUBMITTED';
    const up = alive && d.startedAt ? 'up ' + duration(n - Date.parse(d.startedAt)) : '';
    return [badge(d.state, stateTone(d.state)), ' ', h('span', { class: 'sub mono' }, d.id), up ? h('span', { class: 'sub' }, up) : null];
  }

  async function checkHealth() {
    if (!data) return;
    const queue = data.tenants.filter((t) => t.tenant.toLowerCase().includes(filter)).slice(0, HEALTH_MAX_TENANTS).map((t) => t.tenant);
    const worker = async () => {
      for (let name = queue.shift(); name !== undefined && !stopped; name = queue.shift()) {
        const res = await request('/pipeline/health', { tenant: name, askToken: false });
        if (!res.ok) { health.set(name, { status: 'unknown', title: res.error.message }); continue; }
        const title = (res.data.checks || []).map((ch) => ch.name + ': ' + ch.status + (ch.message ? ' (' + ch.message + ')' : '')).join('\n');
        health.set(name, { status: res.data.status, title });
        render();
      }
    };
    await Promise.all([worker(), worker()]);
    render();
  }

  let stopped = false;
  let pending = null;
  // Soon after an event that changes the table; with many tenants events are many: at most every 5 s.
  const soon = () => {
    if (!pending) pending = setTimeout(() => { pending = null; refresh(); }, data && data.tenants.length > 50 ? 5000 : 400);
  };
  const stopEvents = streamEvents('', (e) => {
    // Polls that did nothing and delay samples come all the time; the 10 s refresh shows them.
    if (/^(spark|lease|discovery)\./.test(e.type) && !(e.type === 'spark.polled' && e.action === 'none')) soon();
  }, app.setConnection);
  const timer = setInterval(refresh, REFRESH_MS);
  let healthTimer = null;
  refresh().then(() => { checkHealth(); healthTimer = setInterval(checkHealth, HEALTH_EVERY_MS); });
  return {
    stop() {
      stopped = true;
      stopEvents();
      clearInterval(timer);
      clearInterval(healthTimer);
      clearTimeout(pending);
    },
  };
}
`;
