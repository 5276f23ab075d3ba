/**
 * STAND-IN, NOT VECTOR. A real HTTP listener on loopback that answers `GET /health` the way
 * Vector's API does (`api.enabled = true`, default port 8686):
 *   - running:       200 `{"ok":true}`
 *   - shutting down: 503 `{"ok":false}`
 * (Vector's `src/api/handler.rs`: `ok` is false while the topology shuts down.)
 *
 * Why a stand-in: Vector cannot be installed on the machines these tests run on (there is no
 * Debian package of it and nothing may be downloaded), yet the pipeline-health check must be
 * tested against a real socket, not a mocked fetch. Only the health endpoint is implemented;
 * everything else answers 404 (Vector's GraphQL API is not imitated).
 *
 * Switches for tests: `setHealthy(false)` (503 ok:false), `setHang(true)` (accept the request,
 * never answer), `stop()` / `start()` (stop listening so clients get ECONNREFUSED, then listen
 * again on the same port).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface VectorApiStandInOptions {
  /** Bind address. Default 127.0.0.1. */
  host?: string;
  /** 0 (default): an ephemeral port, read `port` after `start()`; kept across stop/start. */
  port?: number;
}

export class VectorApiStandIn {
  readonly host: string;
  private portValue: number;
  private server: http.Server | null = null;
  private healthy = true;
  private hang = false;
  /** Responses held open by `setHang(true)`. */
  private readonly held = new Set<http.ServerResponse>();
  /** Every request received, in order (`METHOD /path`). */
  readonly requests: string[] = [];

  constructor(opts: VectorApiStandInOptions = {}) {
    this.host = opts.host ?? '127.0.0.1';
    this.portValue = opts.port ?? 0;
  }

  get port(): number {
    return this.portValue;
  }

  get listening(): boolean {
    return this.server?.listening ?? false;
  }

  /** Starts listening (again, on the same port after a `stop()`). */
  async start(): Promise<this> {
    if (this.server) return this;
    const server = http.createServer((req, res) => this.handle(req, res));
    server.keepAliveTimeout = 1_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.portValue, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.portValue = (server.address() as AddressInfo).port;
    this.server = server;
    return this;
  }

  /** Stops listening and drops every open connection (held ones included): clients get ECONNREFUSED. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    for (const res of this.held) res.destroy();
    this.held.clear();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** false: answer 503 `{"ok":false}` as Vector does while shutting down. */
  setHealthy(ok: boolean): void {
    this.healthy = ok;
  }

  /** true: accept requests and never answer them (a hung process). false releases nothing: held requests stay held until `stop()`. */
  setHang(on: boolean): void {
    this.hang = on;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    this.requests.push(`${req.method ?? 'GET'} ${path}`);
    req.resume();
    if (this.hang) {
      this.held.add(res);
      res.on('close', () => this.held.delete(res));
      return;
    }
    if (path !== '/health' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
      return;
    }
    const body = JSON.stringify({ ok: this.healthy });
    res.writeHead(this.healthy ? 200 : 503, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}
