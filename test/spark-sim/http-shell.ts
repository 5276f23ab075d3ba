/**
 * The simulator's two node:http servers (web UI and REST submission server) on one host: start,
 * stop, refuse connections and listen again on the same ports, and know when no request is being
 * handled. What a request gets is the handler's business.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type ServerKind = 'ui' | 'rest';
export type RequestHandler = (kind: ServerKind, req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>;

export class SimHttpServers {
  uiPort: number;
  restPort: number;
  private servers: { ui: http.Server; rest: http.Server } | null = null;
  private refusingValue = false;
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    readonly host: string,
    ports: { uiPort: number; restPort: number },
    private readonly handler: RequestHandler,
  ) {
    this.uiPort = ports.uiPort;
    this.restPort = ports.restPort;
  }

  /** Both servers listen (port 0: an ephemeral one, read back into `uiPort`/`restPort`). */
  async start(): Promise<void> {
    this.servers = { ui: this.makeServer('ui'), rest: this.makeServer('rest') };
    this.uiPort = await listen(this.servers.ui, this.host, this.uiPort);
    this.restPort = await listen(this.servers.rest, this.host, this.restPort);
  }

  /** Closes both servers and every open connection. */
  async stop(): Promise<void> {
    const s = this.servers;
    this.servers = null;
    if (s) await Promise.all([closeServer(s.ui), closeServer(s.rest)]);
  }

  get refusing(): boolean {
    return this.refusingValue;
  }

  /** `true`: both servers close (clients get ECONNREFUSED); `false`: they listen again on the same ports. */
  async refuseConnections(on: boolean): Promise<void> {
    if (on === this.refusingValue) return;
    this.refusingValue = on;
    const s = this.servers;
    if (!s) return;
    if (on) {
      await Promise.all([closeServer(s.ui), closeServer(s.rest)]);
    } else {
      this.servers = { ui: this.makeServer('ui'), rest: this.makeServer('rest') };
      await listen(this.servers.ui, this.host, this.uiPort);
      await listen(this.servers.rest, this.host, this.restPort);
    }
  }

  /** Resolves when no request is being handled. */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private makeServer(kind: ServerKind): http.Server {
    const server = http.createServer((req, res) => {
      void this.handle(kind, req, res).catch((err: unknown) => {
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(String(err));
        } else res.destroy();
      });
    });
    server.keepAliveTimeout = 5_000;
    return server;
  }

  private async handle(kind: ServerKind, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.inFlight++;
    try {
      await this.handler(kind, req, res);
    } finally {
      if (--this.inFlight === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }
}

/** `host` as it stands in a URL (an IPv6 address in brackets). */
export function urlHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** The whole request body (what arrived, if the connection ends early). */
export function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

function listen(server: http.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      server.closeAllConnections();
      resolve();
      return;
    }
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
