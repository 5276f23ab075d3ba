import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { leaseMsOf } from '../../src/config/schema.js';

const tenant = `tenants = [{ name = "ABC", objectStore.local { path = "data/store" }, kafka.kafkaBrokersHost = k, spark { sparkMasterHost = "m1", sparkJarPath = "file:///app.jar" } }]`;

async function problemsOf(text: string): Promise<string[]> {
  try {
    await parseConfig(text, 'test.conf');
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('ha (many replicas) configuration', () => {
  it('leases apply on MySQL, 15 s unless ha.leaseSeconds says otherwise', async () => {
    expect(leaseMsOf(await parseConfig(`database.client = mysql\n${tenant}`))).toBe(15_000);
    expect(leaseMsOf(await parseConfig(`database.client = mysql\nha { leaseSeconds = 2 }\n${tenant}`))).toBe(2_000);
    expect(leaseMsOf(await parseConfig(`database.client = mysql\nha { leaseSeconds = "4.5" }\n${tenant}`))).toBe(4_500);
  });

  it('SQLite serves one process: no lease, and an ha block is a mistake', async () => {
    expect(leaseMsOf(await parseConfig(tenant))).toBeNull();
    expect((await problemsOf(`ha { leaseSeconds = 5 }\n${tenant}`)).join('\n')).toMatch(/ha.*database\.client = mysql/);
  });

  it('refuses a lease too short to renew, and unknown keys', async () => {
    expect((await problemsOf(`database.client = mysql\nha { leaseSeconds = 0.5 }\n${tenant}`)).join('\n')).toMatch(/leaseSeconds.*at least 1 second/);
    expect((await problemsOf(`database.client = mysql\nha { leaseSecs = 5 }\n${tenant}`)).join('\n')).toMatch(/leaseSecs/);
  });
});
