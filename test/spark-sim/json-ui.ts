/**
 * The master's web UI as clients of `/json/` see it (MasterPage's JSON, JsonProtocol field names):
 * the state document, the redirect of `/json`, and the master page every other path answers.
 */
import type { Driver, SimCluster, Worker } from './cluster.js';
import { jacksonPretty } from './java-formats.js';
import { methodNotAllowed, type Answer } from './jetty.js';

/** Headers Spark's web UI adds to its pages (JettyUtils). */
const UI_HEADERS = {
  'cache-control': 'no-cache, no-store, must-revalidate',
  'x-frame-options': 'SAMEORIGIN',
  'x-xss-protection': '1; mode=block',
  'x-content-type-options': 'nosniff',
};

/** The `/json/` document as an object (what the web UI serves, before pretty-printing). */
export function stateDocument(cluster: SimCluster, masterUrl: string): Record<string, unknown> {
  const alive = cluster.workers.filter((w) => w.state === 'ALIVE');
  const sum = (f: (w: Worker) => number) => alive.reduce((a, w) => a + f(w), 0);
  return {
    url: masterUrl,
    workers: cluster.workers.map((w) => ({
      id: w.id,
      host: w.host,
      port: w.port,
      webuiaddress: w.webUiAddress,
      cores: w.cores,
      coresused: w.coresUsed,
      coresfree: w.cores - w.coresUsed,
      memory: w.memoryMb,
      memoryused: w.memoryUsedMb,
      memoryfree: w.memoryMb - w.memoryUsedMb,
      resources: {},
      resourcesused: {},
      resourcesfree: {},
      state: w.state,
      lastheartbeat: w.lastHeartbeat,
    })),
    aliveworkers: alive.length,
    cores: sum((w) => w.cores),
    coresused: sum((w) => w.coresUsed),
    memory: sum((w) => w.memoryMb),
    memoryused: sum((w) => w.memoryUsedMb),
    resources: alive.map(() => ({})),
    resourcesused: alive.map(() => ({})),
    activeapps: [],
    completedapps: [],
    activedrivers: [...cluster.drivers.values()].map(driverJson),
    completeddrivers: cluster.completed.map(driverJson),
    status: cluster.status,
  };
}

/** The web UI's answer to `method pathname`; `host` is the request's Host header (for the redirect). */
export function uiAnswer(method: string, pathname: string, host: string, cluster: SimCluster, masterUrl: string): Answer {
  if (pathname === '/json') {
    // Jetty context at /json without null path-info: redirect to /json/.
    return { status: 302, headers: { location: `http://${host}/json/` }, body: '' };
  }
  if (method !== 'GET' && method !== 'HEAD') return methodNotAllowed(method, pathname, 'ui');
  if (pathname.startsWith('/json/')) {
    return {
      status: 200,
      headers: { 'content-type': 'text/json;charset=utf-8', ...UI_HEADERS },
      body: jacksonPretty(stateDocument(cluster, masterUrl)),
    };
  }
  // The master page is the UI's root servlet: every other path answers it too.
  return {
    status: 200,
    headers: { 'content-type': 'text/html;charset=utf-8', ...UI_HEADERS },
    body: `<!DOCTYPE html><html><head><title>Spark Master at ${masterUrl}</title></head><body><h3>Spark Master at ${masterUrl}</h3><p>Status: ${cluster.status}</p></body></html>`,
  };
}

function driverJson(d: Driver): Record<string, unknown> {
  return {
    id: d.id,
    starttime: String(d.startTime),
    state: d.state,
    cores: d.desc.cores,
    memory: d.desc.memoryMb,
    resources: {},
    submitdate: d.submitDate,
    worker: d.worker ? d.worker.id : 'None',
    mainclass: d.desc.mainClass,
  };
}
