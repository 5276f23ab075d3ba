/**
 * /dashboard/tenant.js: one tenant. Its summary (GET /api/v1/tenants?tenant=…), pipeline
 * health, the actions (sync, monitor with overrides, replay from a time picked here) and its
 * events as a live timeline over GET /api/v1/events?tenant=….
 */
export const TENANT_JS = String.raw`
import { request, streamEvents, askToken, token } from './api.js';
import { h, clear, badge, when, duration, clock, localInput, eventText, eventTone, stateTone, masterTone, healthTone, delayTone, sparkline } from './view.js';

const TIMELINE_MAX = 200;

export function tenantPage(main, app, tenant) {
  const q = encodeURIComponent(tenant);
  let t = null;
  let skew = 0;
  const now = () => Date.now() - skew;
  const problem = h('p', { role: 'alert', class: 'alert' });
  const sparkBox = h('div');
  const leaseBox = h('div');
  const delayBox = h('div');
  const healthBox = h('div', {}, h('p', { class: 'muted' }, 'Checking…'));
  const result = h('p', { class: 'result', role: 'status', id: 'action-result' });
  const timeline = h('ol', { class: 'timeline', role: 'log', 'aria-label': 'Events of ' + tenant });
  const empty = h('p', { class: 'muted small' }, 'Waiting for events…');
  const routine = h('input', { type: 'checkbox', id: 'event-routine' });
  const typeFilter = h('select', { id: 'event-filter' },
    ['all', 'spark', 'discovery', 'delay', 'lease', 'stream'].map((p) => h('option', { value: p === 'all' ? '' : p + '.' }, p === 'all' ? 'all events' : p + '.*')));

  const panel = (title, body) => h('section', { class: 'panel', 'aria-label': title }, h('h3', {}, title), body);
  clear(main,
    h('p', {}, h('a', { href: '#/' }, '← All tenants')),
    h('h2', {}, 'Tenant ', h('span', { class: 'mono' }, tenant)),
    problem,
    h('div', { class: 'grid' }, panel('Spark', sparkBox), panel('Lease and discovery', leaseBox), panel('Log delay', delayBox), panel('Pipeline health', healthBox)),
    h('div', { class: 'grid' }, h('section', { class: 'panel actions', 'aria-label': 'Actions' }, h('h3', {}, 'Actions'), actionForms(), result),
      h('section', { class: 'panel', 'aria-label': 'Events' }, h('h3', {}, 'Events (live)'),
        h('div', { class: 'toolbar' }, h('label', { for: 'event-filter' }, 'Show'), typeFilter,
          h('span', { class: 'check' }, routine, h('label', { for: 'event-routine' }, 'every poll'))), empty, timeline)));

  function facts(pairs) {
    return h('dl', { class: 'facts' }, pairs.filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
  }

  async function refresh() {
    const res = await request('/api/v1/tenants?tenant=' + q, { askToken: t === null });
    const text = res.ok ? '' : res.error.code + ': ' + res.error.message;
    if (problem.textContent !== text) problem.textContent = text;
    if (!res.ok) return;
    app.auth = res.data.auth;
    skew = Date.now() - Date.parse(res.data.generatedAt);
    t = res.data.tenants[0];
    render();
  }

  function render() {
    const n = now();
    const s = t.spark;
    if (!s) clear(sparkBox, h('p', { class: 'muted' }, 'No Spark stream runs for this tenant.'));
    else {
      const d = s.driver;
      const alive = d && (d.state === 'RUNNING' || d.state === 'SUBMITTED');
      clear(sparkBox, facts([
        ['Master', [badge(s.masterStatus || 'unknown', masterTone(s.masterStatus)), ' ', h('span', { class: 'mono small' }, s.masterUrl || '')]],
        ['Driver', d ? [badge(d.state, stateTone(d.state)), ' ', h('span', { class: 'mono' }, d.id)] : h('span', { class: 'muted' }, 'none')],
        alive && d.startedAt ? ['Uptime', duration(n - Date.parse(d.startedAt))] : null,
        d && d.worker ? ['Worker', h('span', { class: 'mono small' }, d.worker)] : null,
        ['Restarts', [String(s.restarts), s.crashLoop.looping ? [' ', badge('crash-loop', 'bad')] : null, h('span', { class: 'muted small' }, ' (' + s.crashLoop.deathsInWindow + ' of ' + s.crashLoop.threshold + ' in the window)')]],
        s.crashLoop.nextSubmitAllowedAt ? ['Next submission', when(s.crashLoop.nextSubmitAllowedAt, n)] : null,
        ['Last submission', s.lastSubmission ? [when(s.lastSubmission.at, n), h('span', { class: 'muted small' }, ' — ' + s.lastSubmission.reason)] : 'none'],
        ['Last poll', s.lastPoll ? [when(s.lastPoll.at, n), h('span', { class: 'muted small' }, ' — ' + s.lastPoll.outcome)] : 'not yet'],
        s.replay ? ['Replay', 'from ' + new Date(s.replay.startingOffsetsTimestamp).toLocaleString() + (s.replay.isSubmittedForOffsetsTimestamp ? ' (running)' : ' (pending)') + ', back at ' + new Date(s.replay.resumeToSubscribePatternTimestamp).toLocaleString()] : null,
        s.lastError ? ['Last error', [when(s.lastError.at, n), h('span', { class: 'small' }, ' ' + s.lastError.message)]] : null,
      ]));
    }
    const l = t.lease;
    const dsc = t.discovery;
    clear(leaseBox, facts([
      ['Acting replica', l.mode === 'single-process' ? 'this process (SQLite)' : l.holder ? [h('span', { class: 'mono' }, l.holder), l.isThisProcess ? [' ', badge('this replica', 'ok')] : null] : badge('no holder', 'warn')],
      l.validUntil ? ['Lease until', when(l.validUntil, n)] : null,
      ['Services known', t.services.known === null ? 'unknown (database)' : String(t.services.known)],
      ['Last discovery', dsc.lastSync ? [when(dsc.lastSync.at, n), h('span', { class: 'muted small' }, ' — ' + (dsc.lastSync.present + dsc.lastSync.onboarded) + ' in the store, +' + dsc.lastSync.onboarded + ' −' + dsc.lastSync.removed)] : 'not yet'],
      dsc.lastFailure ? ['Last failure', [when(dsc.lastFailure.at, n), h('span', { class: 'small' }, ' ' + dsc.lastFailure.error)]] : null,
      t.lastRetry ? ['Last retry', [when(t.lastRetry.at, n), h('span', { class: 'small' }, ' ' + t.lastRetry.stream + ' #' + t.lastRetry.attempt + ': ' + t.lastRetry.error)]] : null,
    ]));
    const m = t.delay.minutes;
    clear(delayBox,
      h('p', { class: 'big' }, t.delay.at ? (m === null ? 'failed' : m + ' min') : '—'),
      t.delay.at ? h('p', {}, badge(m === null ? 'sample failed' : m < 5 ? 'fresh' : m < 15 ? 'behind' : 'late', delayTone(m)), ' ', h('span', { class: 'muted small' }, 'sampled ', when(t.delay.at, n))) : h('p', { class: 'muted' }, 'No sample yet (is delayMetrics.app configured?)'),
      sparkline(t.delay.history.minutes, t.delay.history.bucketMs, 280, 56, true),
      h('p', { class: 'muted small' }, 'Up to the last ' + Math.round((t.delay.history.minutes.length * t.delay.history.bucketMs) / 3600000) + ' hours, one point per ' + t.delay.history.bucketMs / 60000 + ' minutes'));
  }

  async function checkHealth() {
    const res = await request('/pipeline/health', { tenant, askToken: false });
    if (!res.ok) { clear(healthBox, h('p', {}, badge('unknown', 'warn'), ' ' + res.error.message)); return; }
    clear(healthBox, h('p', {}, badge(res.data.status, healthTone(res.data.status))),
      h('ul', {}, (res.data.checks || []).map((c) => h('li', {}, h('strong', {}, c.name), ' ', badge(c.status, healthTone(c.status)), c.message ? h('span', { class: 'small muted' }, ' ' + c.message) : null))));
  }

  function field(id, label, input) {
    input.id = id;
    return h('div', { class: 'field' }, h('label', { for: id }, label), input);
  }

  function actionForms() {
    const force = h('input', { type: 'checkbox', id: 'sync-force' });
    const cores = h('input', { type: 'number', min: 1, max: 1024, step: 1, inputmode: 'numeric' });
    const memory = h('input', { type: 'number', min: 0.5, max: 4096, step: 0.5, inputmode: 'decimal' });
    const from = h('input', { type: 'datetime-local', required: true, value: localInput(Date.now() - 30 * 60000) });
    const resume = h('input', { type: 'datetime-local', required: true, value: localInput(Date.now() + 30 * 60000) });
    const offset = -new Date().getTimezoneOffset();
    const zone = 'local time, UTC' + (offset >= 0 ? '+' : '−') + String(Math.floor(Math.abs(offset) / 60)).padStart(2, '0') + ':' + String(Math.abs(offset) % 60).padStart(2, '0');
    return [
      h('form', { 'aria-label': 'Sync', onsubmit: (e) => act(e, 'Sync', '/api/v1/component/sync', { componentType: 'application', force: force.checked }) },
        h('div', { class: 'field check' }, force, h('label', { for: 'sync-force' }, 'force (remove services even past the deletion guard)')),
        h('button', { type: 'submit', class: 'primary' }, 'Sync now')),
      h('form', { 'aria-label': 'Monitor', onsubmit: (e) => {
        const body = {};
        if (cores.value) body.driverCores = Number(cores.value);
        if (memory.value) body.driverMemoryInGb = Number(memory.value);
        return act(e, 'Monitor', '/monitor-spark-job', body);
      } },
        field('monitor-cores', 'Driver cores', cores), field('monitor-memory', 'Driver memory (GB)', memory),
        h('button', { type: 'submit', class: 'primary' }, 'Monitor now')),
      h('form', { 'aria-label': 'Replay', onsubmit: (e) => {
        const start = new Date(from.value).getTime();
        const back = new Date(resume.value).getTime();
        const what = 'Replay kills the driver of ' + tenant + ', cleans its checkpoint and resubmits it reading Kafka from ' + new Date(start).toLocaleString() + '. Continue?';
        if (!window.confirm(what)) { e.preventDefault(); return; }
        return act(e, 'Replay', '/api/v1/spark/replay', { startingOffsetsTimestamp: start, resumeToSubscribePatternTimestamp: back });
      } },
        field('replay-from', 'Replay Kafka from', from), field('replay-resume', 'Back to normal at', resume),
        h('button', { type: 'submit', class: 'primary' }, 'Schedule replay'),
        h('p', { class: 'muted small' }, 'Times in ' + zone + '.')),
    ];
  }

  async function act(e, name, path, body) {
    e.preventDefault();
    const button = e.target.querySelector('button[type=submit]');
    if (app.auth && app.auth.postsNeedToken && !token() && !(await askToken())) {
      result.className = 'result';
      clear(result, badge(name, 'warn'), ' needs the token');
      return;
    }
    button.disabled = true;
    clear(result, name + '…');
    const res = await request(path, { method: 'POST', tenant, body });
    button.disabled = false;
    if (!res.ok) { clear(result, badge(name + ' failed', 'bad'), ' ' + res.error.code + ': ' + res.error.message); return; }
    const d = res.data;
    const text = d.message
      ? d.message + (d.onboarded !== undefined ? ' (onboarded ' + d.onboarded + ', removed ' + d.removed + ')' : '')
      : 'Replay #' + d.id + ' recorded: the loop kills the driver, cleans its state and resubmits it from ' + new Date(d.startingOffsetsTimestamp).toLocaleString();
    clear(result, badge(name + ' done', 'ok'), ' ' + text);
    refresh();
  }

  // A poll's outcome has an event of its own (submitted, waiting, …): polls are hidden unless asked for.
  const isRoutine = (e) => e.type === 'spark.polled';
  const shown = (e) => (!typeFilter.value || e.type.startsWith(typeFilter.value)) && (routine.checked || !isRoutine(e));
  const seen = [];
  const item = (e) => h('li', { 'data-key': e.type + ' ' + eventText(e) }, h('time', { datetime: new Date(e.at).toISOString() }, clock(e.at)), h('span', {}, badge(e.type, eventTone(e.type))), h('span', { class: 'what mono' }, eventText(e)));
  const sameAs = (li, e) => li && li.dataset.key === e.type + ' ' + eventText(e);
  // The same event again (a wait reported every poll) updates the top line: its time and a count.
  function repeat(li, e) {
    const n = Number(li.dataset.count || 1) + 1;
    li.dataset.count = n;
    li.firstChild.setAttribute('datetime', new Date(e.at).toISOString());
    clear(li.firstChild, clock(e.at), h('span', { class: 'muted small', title: n + ' times in a row' }, ' ×' + n));
  }

  function addEvent(e) {
    seen.unshift(e);
    if (seen.length > TIMELINE_MAX * 3) seen.pop();
    if (!shown(e)) return;
    empty.hidden = true;
    if (sameAs(timeline.firstElementChild, e)) return repeat(timeline.firstElementChild, e);
    timeline.prepend(item(e));
    while (timeline.children.length > TIMELINE_MAX) timeline.lastElementChild.remove();
  }

  // What happened before the page opened, merged with what the stream brought meanwhile.
  async function loadRecent() {
    const res = await request('/api/v1/events/recent?tenant=' + q, { askToken: false });
    if (!res.ok) return;
    const key = (e) => e.at + ' ' + e.type;
    const known = new Set(seen.map(key));
    for (const e of res.data.events) if (!known.has(key(e))) seen.push(e);
    seen.sort((a, b) => b.at - a.at);
    refilter();
  }

  // Filters apply to what was received already, too.
  function refilter() {
    timeline.replaceChildren();
    for (const e of seen.filter(shown).reverse()) {
      if (sameAs(timeline.firstElementChild, e)) repeat(timeline.firstElementChild, e);
      else timeline.prepend(item(e));
    }
    while (timeline.children.length > TIMELINE_MAX) timeline.lastElementChild.remove();
    empty.hidden = timeline.children.length > 0;
  }

  let pending = null;
  const soon = () => { if (!pending) pending = setTimeout(() => { pending = null; refresh(); }, 300); };
  const stopEvents = streamEvents('?tenant=' + q, (e) => { addEvent(e); if (!isRoutine(e)) soon(); }, app.setConnection);
  typeFilter.addEventListener('change', refilter);
  routine.addEventListener('change', refilter);
  const timer = setInterval(refresh, 10000);
  const healthTimer = setInterval(checkHealth, 30000);
  refresh();
  checkHealth();
  loadRecent();
  return {
    stop() {
      stopEvents();
      clearInterval(timer);
      clearInterval(healthTimer);
      clearTimeout(pending);
    },
  };
}
`;
