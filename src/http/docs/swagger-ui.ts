import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Context, Hono } from 'hono';
import { selfOnlyCsp, sendAsset, staticAsset, type StaticAsset } from '../static-asset.js';

/**
 * `GET /docs`: Swagger UI (the `swagger-ui-dist` package, served by the daemon from
 * node_modules; no CDN) on /openapi.json, with try-it-out against this daemon and the
 * bearer token of the document's security scheme (Authorize). The token is not persisted.
 */
const CSP = selfOnlyCsp({ styleInline: true }); // Swagger UI's React components set inline styles.

const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>logwise-orchestrator API</title>
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="stylesheet" href="/docs/assets/docs.css">
</head>
<body>
<nav class="lw-back" aria-label="Back"><a href="/">← Dashboard</a></nav>
<main id="swagger-ui"></main>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/init.js"></script>
</body>
</html>
`;

// validatorUrl null: the default sends the document to validator.swagger.io for a badge.
const INIT_JS = `window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  validatorUrl: null,
  persistAuthorization: false,
  displayRequestDuration: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
});
`;

const DOCS_CSS = `.lw-back{font:14px system-ui,sans-serif;padding:.6rem 1.25rem;max-width:1460px;margin:0 auto}
.lw-back a{color:#0550ae}
`;

/** Files of swagger-ui-dist that the page uses; everything else of the package stays unserved. */
const DIST_FILES: Record<string, string> = {
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui.css': 'text/css; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

let assets: Map<string, StaticAsset> | undefined;

/** Read once, at the first request for the docs (the bundle is 1.5 MB; most daemons never serve it). */
function docsAssets(): Map<string, StaticAsset> {
  if (assets) return assets;
  const dist = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  const loaded = new Map<string, StaticAsset>();
  for (const [file, type] of Object.entries(DIST_FILES)) loaded.set(file, staticAsset(readFileSync(join(dist, file)), type));
  loaded.set('init.js', staticAsset(INIT_JS, 'text/javascript; charset=utf-8'));
  loaded.set('docs.css', staticAsset(DOCS_CSS, 'text/css; charset=utf-8'));
  assets = loaded;
  return loaded;
}

const page = staticAsset(DOCS_HTML, 'text/html; charset=utf-8', { 'content-security-policy': CSP, 'referrer-policy': 'no-referrer' });

export function docsPage(c: Context): Response {
  return sendAsset(c, page);
}

/** Registers /docs/assets/<file> (not API routes: they stay out of /openapi.json). */
export function mountDocsAssets(app: Hono): void {
  app.get('/docs/assets/:file', (c) => {
    const asset = docsAssets().get(c.req.param('file'));
    return asset ? sendAsset(c, asset) : c.json({ error: { code: 'NOT_FOUND', message: `no asset ${c.req.param('file').slice(0, 64)}` } }, 404);
  });
}
