/**
 * /dashboard/api.js: the dashboard's requests. The bearer token is asked once (the dialog of
 * the page) and kept in sessionStorage: this tab only, gone when it closes. The event stream
 * is read with fetch rather than EventSource, which cannot send the Authorization header
 * that `http.protectReads` requires; it reconnects with backoff.
 */
export const API_JS = String.raw`
const TOKEN_KEY = 'logwise.token';
const listeners = new Set();
/** Where the token stays when the browser refuses sessionStorage: until the page reloads. */
let memory = '';

export function token() {
  try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch { return memory; }
}

export function setToken(value) {
  try {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch { memory = value; }
  listeners.forEach((fn) => fn());
}

export function onTokenChange(fn) {
  listeners.add(fn);
}

let asking = null;

/** Opens the token dialog (concurrent callers share it); true when a token was given. */
export function askToken() {
  if (asking) return asking;
  const dialog = document.getElementById('token-dialog');
  const input = document.getElementById('token-input');
  const back = document.activeElement;
  input.value = token();
  asking = new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      asking = null;
      const given = dialog.returnValue === 'ok';
      if (given) setToken(input.value.trim());
      if (back && back.focus) back.focus();
      resolve(given && input.value.trim() !== '');
    }, { once: true });
  });
  dialog.returnValue = '';
  dialog.showModal();
  input.focus();
  return asking;
}

function headers(extra) {
  const out = Object.assign({ accept: 'application/json' }, extra);
  const t = token();
  if (t) out.authorization = 'Bearer ' + t;
  return out;
}

/**
 * One API call: { ok, status, data } or { ok: false, status, error: { code, message } }.
 * A 401 opens the token dialog (unless opts.askToken is false) and retries once.
 */
export async function request(path, opts) {
  opts = opts || {};
  for (let attempt = 0; ; attempt++) {
    const extra = {};
    if (opts.tenant) extra['x-tenant-name'] = opts.tenant;
    if (opts.body !== undefined) extra['content-type'] = 'application/json';
    let res;
    try {
      res = await fetch(path, {
        method: opts.method || 'GET',
        headers: headers(extra),
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        cache: 'no-store',
      });
    } catch {
      return { ok: false, status: 0, error: { code: 'UNREACHABLE', message: 'the daemon did not answer' } };
    }
    const body = await res.json().catch(() => null);
    if (res.status === 401 && attempt === 0 && opts.askToken !== false && (await askToken())) continue;
    if (res.ok) return { ok: true, status: res.status, data: body ? body.data : null };
    const error = body && body.error ? body.error : { code: 'HTTP_' + res.status, message: res.statusText || 'request failed' };
    return { ok: false, status: res.status, error };
  }
}

/**
 * Follows GET /api/v1/events (query e.g. "?tenant=ABC"): onEvent(event) per event,
 * onState('live' | 'reconnecting') as the connection goes. Returns the function that stops it.
 */
export function streamEvents(query, onEvent, onState) {
  let stopped = false;
  let controller = null;
  let delay = 500;
  const run = async () => {
    while (!stopped) {
      controller = new AbortController();
      try {
        const res = await fetch('/api/v1/events' + query, { headers: headers({ accept: 'text/event-stream' }), signal: controller.signal, cache: 'no-store' });
        if (!res.ok || !res.body) throw new Error('HTTP ' + res.status);
        onState('live');
        delay = 500;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const chunk = await reader.read();
          if (chunk.done) break;
          buffer += chunk.value.replace(/\r\n?/g, '\n');
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, '')).join('\n');
            if (!data) continue;
            let event;
            try { event = JSON.parse(data); } catch { continue; }
            onEvent(event);
          }
        }
      } catch {
        if (stopped) return;
      }
      if (stopped) return;
      onState('reconnecting');
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 10000);
    }
  };
  run();
  return () => {
    stopped = true;
    if (controller) controller.abort();
  };
}
`;
