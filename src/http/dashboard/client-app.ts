/**
 * /dashboard/app.js: the entry module. Routes by the URL's hash (#/ the tenants, #/tenant/NAME
 * one tenant), so every view has a link and the back button works; shows the event stream's
 * connection state and the token button.
 */
export const APP_JS = String.raw`
import { askToken, token, onTokenChange } from './api.js';
import { overviewPage } from './overview.js';
import { tenantPage } from './tenant.js';

const main = document.getElementById('main');
const conn = document.getElementById('conn');
const tokenButton = document.getElementById('token-button');
document.querySelector('#token-dialog button[value=cancel]').addEventListener('click', (e) => {
  e.preventDefault();
  document.getElementById('token-dialog').close('cancel');
});

const app = {
  auth: null,
  setConnection(state) {
    conn.textContent = state === 'live' ? 'live' : 'reconnecting…';
    conn.className = 'conn badge ' + (state === 'live' ? 'ok' : 'warn');
    conn.title = state === 'live' ? 'Following the event stream' : 'The event stream was interrupted; retrying';
  },
};

function showToken() {
  tokenButton.textContent = token() ? 'Token set (change)' : 'Set token';
}
tokenButton.addEventListener('click', () => askToken());
onTokenChange(showToken);
showToken();

let page = null;
function route() {
  if (page) page.stop();
  const match = /^#\/tenant\/(.+)$/.exec(location.hash);
  const tenant = match ? decodeURIComponent(match[1]) : null;
  document.title = (tenant ? tenant + ' · ' : '') + 'Logwise orchestrator';
  page = tenant ? tenantPage(main, app, tenant) : overviewPage(main, app);
}

window.addEventListener('hashchange', () => {
  route();
  // Keyboard and screen-reader users land on the new view, not on the link they left.
  main.focus();
});
window.addEventListener('pagehide', () => page && page.stop());
route();
`;
