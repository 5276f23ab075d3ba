import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DeleteObjectsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { createTestBucket, emptyAndDeleteBucket, delimiterPages, putObjects, s3TestEndpoint, s3TestRegion, testS3Client } from './s3.js';

/** A bucket (or folder) a test fills with objects, and the HOCON `objectStore` block that points at it. */
export interface TestStore {
  hocon: string;
  /** Pages one delimiter listing of `prefix` takes on this store, counted independently of the adapter. */
  pagesOf(prefix: string): Promise<number>;
  put(keys: readonly string[]): Promise<void>;
  deletePrefix(prefix: string): Promise<void>;
  destroy(): Promise<void>;
}

export async function cephBucket(label: string): Promise<TestStore> {
  const client = testS3Client();
  const bucket = await createTestBucket(label, client);
  return {
    hocon: `objectStore.aws { region = "${s3TestRegion}", bucket = "${bucket}", endpointOverride = "${s3TestEndpoint}" }`,
    put: (keys) => putObjects(client, bucket, keys, 48),
    pagesOf: (prefix) => delimiterPages(client, bucket, prefix),
    async deletePrefix(prefix) {
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
        const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
        if (keys.length) await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
        token = page.NextContinuationToken;
      } while (token);
    },
    destroy: async () => {
      await emptyAndDeleteBucket(bucket, client);
      client.destroy();
    },
  };
}

export function localFolder(): TestStore {
  const root = mkdtempSync(join(tmpdir(), 'lw-store-'));
  return {
    hocon: `objectStore.local.path = "${root}"`,
    pagesOf: async () => 1,
    async put(keys) {
      for (const key of keys) {
        mkdirSync(dirname(join(root, key)), { recursive: true });
        writeFileSync(join(root, key), key);
      }
    },
    async deletePrefix(prefix) {
      rmSync(join(root, prefix), { recursive: true, force: true });
    },
    destroy: async () => rmSync(root, { recursive: true, force: true }),
  };
}

/** The default layout's key of one minute partition of a service. */
export function partitionKey(env: string, service: string, component: string, minute = '2026-11-27T03:00:00Z', logsDir = 'logs'): string {
  const d = new Date(minute);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${logsDir}/env=${env}/service_name=${service}/component_name=${component}/year=${d.getUTCFullYear()}/month=${p(d.getUTCMonth() + 1)}/day=${p(d.getUTCDate())}/hour=${p(d.getUTCHours())}/minute=${p(d.getUTCMinutes())}/part-00000.parquet`;
}
