/**
 * The vector check: GET http://host:apiPort/health; Vector's API answers 200 {"ok":true}.
 */
import { Agent, request } from 'undici';
import { firstLine } from '../../common/text.js';
import type { TenantConfig } from '../../config/schema.js';
import { urlHost } from '../../spark/hosts.js';
import { describeError, type CheckContext, type CheckOutcome } from './check.js';

const VECTOR_MAX_BODY_BYTES = 64 * 1024;

export async function checkVector(tenant: TenantConfig, ctx: CheckContext, timeoutMs: number): Promise<CheckOutcome> {
  if (!tenant.vector) return { status: 'SKIPPED', message: 'not configured (no vector { host, apiPort } for this tenant)' };
  const url = vectorHealthUrl(tenant.vector.host, tenant.vector.apiPort);
  ctx.details.url = url;
  ctx.phase(`waiting for GET ${url}`);
  const agent = new Agent({ connect: { timeout: timeoutMs }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, keepAliveTimeout: 1, pipelining: 0 });
  try {
    const res = await request(url, { method: 'GET', dispatcher: agent, signal: ctx.signal, headers: { accept: 'application/json' } });
    ctx.details.httpStatus = res.statusCode;
    const text = await readCapped(res.body, VECTOR_MAX_BODY_BYTES);
    let ok: unknown;
    try {
      ok = (JSON.parse(text) as { ok?: unknown } | null)?.ok;
    } catch {
      ok = undefined;
    }
    if (res.statusCode < 200 || res.statusCode > 299) {
      return { status: 'DOWN', message: `Vector API answered HTTP ${res.statusCode}${ok === false ? ' {"ok":false} (shutting down)' : ''}` };
    }
    if (ok !== true)
      return { status: 'DOWN', message: `Vector API answered HTTP ${res.statusCode} without "ok":true: ${firstLine(text, 120) || '(empty body)'}` };
    return { status: 'UP' };
  } catch (error) {
    return { status: 'DOWN', message: `Vector API unreachable at ${url}: ${describeError(error)}` };
  } finally {
    await agent.destroy().catch(() => undefined);
  }
}

function vectorHealthUrl(host: string, port: number): string {
  const trimmed = host.trim().replace(/\/+$/, '');
  const base = /^https?:\/\//i.test(trimmed) ? trimmed : `http://${urlHost(trimmed)}`;
  const hasPort = /^https?:\/\/(\[[^\]]+\]|[^/:]+):\d+$/i.test(base);
  return `${hasPort ? base : `${base}:${port}`}/health`;
}

async function readCapped(body: AsyncIterable<Buffer | Uint8Array> & { destroy?: () => void }, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const b = Buffer.from(chunk);
    chunks.push(b);
    size += b.length;
    if (size >= max) {
      body.destroy?.();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, max).toString('utf8');
}
