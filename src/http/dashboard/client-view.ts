/**
 * /dashboard/view.js: DOM building (no HTML strings, so no value from the daemon is ever
 * parsed as markup), formatting of times and durations, state badges and the delay sparkline.
 * Browser code kept as a string so that the compiled daemon serves it without a copy step;
 * written without template literals, so it sits in one here unescaped.
 */
export const VIEW_JS = String.raw`
const SVG = 'http://www.w3.org/2000/svg';

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else if (k === 'value' || k === 'checked') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function badge(text, tone, title) {
  return h('span', { class: 'badge ' + (tone || ''), title }, text);
}

export function stateTone(state) {
  if (state === 'RUNNING') return 'ok';
  if (state === 'SUBMITTED' || state === 'RELAUNCHING') return 'info';
  if (state === 'FINISHED') return '';
  if (state === 'KILLED') return 'warn';
  return state ? 'bad' : '';
}

export function masterTone(status) {
  if (status === 'ALIVE') return 'ok';
  if (status === 'UNREACHABLE') return 'bad';
  return status ? 'warn' : '';
}

export function healthTone(status) {
  if (status === 'UP') return 'ok';
  if (status === 'DOWN') return 'bad';
  if (status === 'SKIPPED') return '';
  return 'warn';
}

export function delayTone(minutes) {
  if (minutes === null || minutes === undefined) return 'bad';
  return minutes < 5 ? 'ok' : minutes < 15 ? 'warn' : 'bad';
}

export function eventTone(type) {
  if (/failed|crashloop$|unreachable|lost$/.test(type)) return 'bad';
  if (/retrying|guarded|waiting|split-brain$|renew/.test(type)) return 'warn';
  if (/submitted|onboarded|acquired|resumed|replay-started|ended$|adopted/.test(type)) return 'ok';
  return '';
}

/** "5 s", "12 min", "3 h 05 min", "2 d 4 h". */
export function duration(ms) {
  if (!(ms >= 0)) return '';
  const s = Math.floor(ms / 1000);
  if (s < 60) return s + ' s';
  const m = Math.floor(s / 60);
  if (m < 60) return m + ' min';
  const hours = Math.floor(m / 60);
  if (hours < 48) return hours + ' h ' + String(m % 60).padStart(2, '0') + ' min';
  return Math.floor(hours / 24) + ' d ' + (hours % 24) + ' h';
}

export function ago(iso, now) {
  if (!iso) return 'never';
  const ms = now - Date.parse(iso);
  return ms < 1500 ? 'just now' : duration(ms) + ' ago';
}

/** A time element: the relative time, the absolute one on hover and for assistive technology. */
export function when(iso, now) {
  if (!iso) return h('span', { class: 'muted' }, 'never');
  return h('time', { datetime: iso, title: new Date(iso).toLocaleString() }, ago(iso, now));
}

export function clock(ms) {
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/** A datetime-local input's value (local time, minutes) for epoch ms. */
export function localInput(ms) {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
}

/** The payload of an event as "key=value" pairs (type, tenant and time are shown apart). */
export function eventText(e) {
  const parts = [];
  for (const [k, v] of Object.entries(e)) {
    if (k === 'type' || k === 'tenant' || k === 'at') continue;
    let text = Array.isArray(v) ? v.join(',') : typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
    if (text.length > 160) text = text.slice(0, 157) + '…';
    parts.push(k + '=' + text);
  }
  return parts.join('  ');
}

/**
 * The delay of the last hours as a line (gaps where no sample was taken), with a text
 * alternative that says what the line shows. It spans from the first sample (at least the last
 * half hour), so a daemon up for minutes does not draw them in the last pixels of 3 hours.
 */
export function sparkline(history, bucketMs, width, height, wide) {
  const first = history.findIndex((v) => v !== null);
  const minBuckets = Math.ceil(1800000 / bucketMs);
  const values = first < 0 ? history : history.slice(Math.max(0, Math.min(first, history.length - minBuckets)));
  const known = values.filter((v) => v !== null);
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', wide ? 'spark wide' : 'spark');
  // A wide one stretches over its panel; its strokes keep their width (non-scaling-stroke).
  if (wide) svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('width', width);
  svg.setAttribute('height', height);
  svg.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
  svg.setAttribute('role', 'img');
  const span = duration(values.length * bucketMs);
  svg.setAttribute('aria-label', known.length
    ? 'Delay over the last ' + span + ': lowest ' + Math.min(...known) + ', highest ' + Math.max(...known) + ' minutes'
    : 'No delay samples in the last ' + span);
  const base = document.createElementNS(SVG, 'line');
  base.setAttribute('x1', '0');
  base.setAttribute('x2', String(width));
  base.setAttribute('y1', String(height - 0.5));
  base.setAttribute('y2', String(height - 0.5));
  svg.append(base);
  if (!known.length) return svg;
  const top = Math.max(5, ...known);
  const x = (i) => ((i + 0.5) * width) / values.length;
  const y = (v) => height - 1.5 - (v / top) * (height - 3);
  let run = [];
  const flush = () => {
    // A lone sample (gaps on both sides) becomes a short dash, so that it shows.
    if (run.length === 1) run = [[run[0][0] - 1.5, run[0][1]], [run[0][0] + 1.5, run[0][1]]];
    if (run.length) {
      const line = document.createElementNS(SVG, 'polyline');
      line.setAttribute('points', run.map((p) => p[0].toFixed(1) + ',' + p[1].toFixed(1)).join(' '));
      svg.append(line);
    }
    run = [];
  };
  values.forEach((v, i) => (v === null ? flush() : run.push([x(i), y(v)])));
  flush();
  return svg;
}
`;
