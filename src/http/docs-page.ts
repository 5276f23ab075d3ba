/**
 * `GET /docs`: a page that renders /openapi.json. Self-contained (no CDN: daemons often run
 * where the internet is not reachable): each route with its parameters, body and responses.
 */
export const DOCS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>logwise-orchestrator API</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#1d2733}
h1{font-size:1.4rem}.route{border:1px solid #d5dbe3;border-radius:6px;margin:.8rem 0;padding:.6rem .9rem}
.m{display:inline-block;min-width:3.5rem;font-weight:700;text-transform:uppercase}.get{color:#1f6feb}.post{color:#1a7f37}
code,pre{font:12px/1.4 ui-monospace,monospace}pre{background:#f6f8fa;padding:.5rem;border-radius:4px;overflow:auto}
.s{color:#57606a}
</style></head><body>
<h1>logwise-orchestrator API</h1>
<p class="s">Generated from <a href="/openapi.json">/openapi.json</a>. Tenant routes need the <code>X-Tenant-Name</code> header.</p>
<div id="routes">Loading…</div>
<script>
const resolve = (doc, s) => s && s.$ref ? doc.components.schemas[s.$ref.split('/').pop()] : s;
const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text) e.textContent = text; return e; };
fetch('/openapi.json').then(r => r.json()).then(doc => {
  const root = document.getElementById('routes'); root.textContent = '';
  for (const [path, ops] of Object.entries(doc.paths)) for (const [method, op] of Object.entries(ops)) {
    const box = el('div', 'route'); const head = el('div');
    head.append(el('span', 'm ' + method, method), el('code', '', path), el('span', 's', ' — ' + (op.summary || '')));
    box.append(head);
    const params = (op.parameters || []).map(p => p.in + ' ' + p.name + (p.required ? ' (required)' : ''));
    if (params.length) box.append(el('div', 's', 'Parameters: ' + params.join(', ')));
    const body = op.requestBody && op.requestBody.content['application/json'];
    if (body) box.append(el('div', 's', 'Body:'), el('pre', '', JSON.stringify(resolve(doc, body.schema), null, 2)));
    const ok = op.responses['200'] && op.responses['200'].content;
    if (ok && ok['application/json']) box.append(el('div', 's', '200: ' + op.responses['200'].description), el('pre', '', JSON.stringify(resolve(doc, ok['application/json'].schema), null, 2)));
    root.append(box);
  }
}).catch(e => { document.getElementById('routes').textContent = 'Could not load /openapi.json: ' + e; });
</script></body></html>`;
