/**
 * `GET /`: the shell of the operators' dashboard. It holds no data (the scripts fetch it), so
 * it is served without the token even under `http.protectReads`; the token dialog lives here.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Logwise orchestrator</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard/app.css">
<script type="module" src="/dashboard/app.js"></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <h1><a href="#/">Logwise orchestrator</a></h1>
  <span id="conn" class="conn badge" role="status">connecting…</span>
  <nav aria-label="Tools">
    <a href="/docs">API docs</a>
    <button id="token-button" type="button">Set token</button>
  </nav>
</header>
<main id="main" tabindex="-1"><p class="muted">Loading…</p></main>
<dialog id="token-dialog" aria-labelledby="token-title">
  <form method="dialog">
    <h2 id="token-title">Auth token</h2>
    <p class="small">The daemon's bearer token (<code>http.authToken</code>). It is kept in this browser tab only and sent with every request.</p>
    <label for="token-input">Token</label>
    <input id="token-input" name="token" type="password" autocomplete="off" spellcheck="false">
    <div class="row">
      <button type="button" value="cancel">Cancel</button>
      <button type="submit" value="ok" class="primary">Use token</button>
    </div>
  </form>
</dialog>
</body>
</html>
`;
