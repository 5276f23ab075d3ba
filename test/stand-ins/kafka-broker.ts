/**
 * STAND-IN, NOT KAFKA. A real TCP listener on loopback that speaks just enough of the Kafka
 * wire protocol for a client's bootstrap and metadata requests:
 *
 *   - ApiVersions (api key 18), versions 0-3. v3 is what @platformatic/kafka sends first on
 *     every new connection (`apiVersionsV3` in its `clients/base/base.js`): request header v2
 *     (flexible), body `client_software_name COMPACT_STRING, client_software_version
 *     COMPACT_STRING, TAG_BUFFER`; the response keeps header v0 (no tagged fields: KIP-511),
 *     body `error_code INT16, api_keys COMPACT_ARRAY[api_key, min_version, max_version,
 *     TAG_BUFFER], throttle_time_ms INT32, TAG_BUFFER`. v0-2 use the classic encodings. A
 *     version above 3 gets the v0 answer with UNSUPPORTED_VERSION (35), as Kafka does.
 *   - Metadata (api key 3), the flexible versions 9-12 (request header v2, response header v1
 *     with its TAG_BUFFER), encoded field by field from Kafka's MetadataRequest.json /
 *     MetadataResponse.json: topic_id from v10, include_cluster_authorized_operations and
 *     cluster_authorized_operations only in v8-10, nullable topic names in v12. A null topic
 *     array means every topic; a named topic that does not exist answers
 *     UNKNOWN_TOPIC_OR_PARTITION (3), an unknown topic id UNKNOWN_TOPIC_ID (100).
 *     The client picks the highest version both sides know; advertising 9-12 (a real Kafka
 *     3.x broker advertises 0-12) makes it send v12, the version it would send to a real broker.
 *
 * Anything else (another api key, an unadvertised version, a malformed frame) closes the
 * connection, which is what a Kafka broker does with a request it cannot parse.
 *
 * Why a stand-in: neither Kafka nor a JVM can be installed on the machines these tests run on
 * (no Debian package, nothing may be downloaded), yet the pipeline-health check must be tested
 * with a real client over a real socket (framing, correlation ids, compact/flexible encodings),
 * not with a mocked client. It is written independently of the client's protocol code (no
 * imports from it), so the tests validate the client's encoding against the published schema.
 *
 * Switches for tests: `setTopics()`, `setHang(true | 'metadata' | false)` (accept and read
 * requests, never answer: all of them, or only Metadata after a normal ApiVersions answer),
 * `stop()` / `start()` (stop listening and drop connections so clients get ECONNREFUSED, then
 * listen again on the same port). `requests` records what clients sent.
 */
import { createHash } from 'node:crypto';
import net from 'node:net';

export const API_KEY_METADATA = 3;
export const API_KEY_API_VERSIONS = 18;

const ERROR_NONE = 0;
const ERROR_UNKNOWN_TOPIC_OR_PARTITION = 3;
const ERROR_UNSUPPORTED_VERSION = 35;
const ERROR_UNKNOWN_TOPIC_ID = 100;
/** `topic_authorized_operations` / `cluster_authorized_operations` when not requested. */
const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;
const MAX_FRAME_BYTES = 1024 * 1024;

export interface StandInTopic {
  name: string;
  /** Default 1. */
  partitions?: number;
  /** Like `__consumer_offsets`. Default false. */
  internal?: boolean;
}

export interface StandInBroker {
  nodeId: number;
  host: string;
  port: number;
  rack?: string | null;
}

export interface KafkaBrokerStandInOptions {
  /** Bind address. Default 127.0.0.1. */
  host?: string;
  /** 0 (default): an ephemeral port, read `port` after `start()`; kept across stop/start. */
  port?: number;
  topics?: (string | StandInTopic)[];
  /** This broker's node id. Default 1. */
  nodeId?: number;
  /** Other brokers of the "cluster" to list in Metadata answers (never contacted here). */
  otherBrokers?: StandInBroker[];
  clusterId?: string;
  /** Metadata versions advertised in ApiVersions. Default 9-12 (the flexible ones this stand-in encodes). */
  metadataVersions?: { min: number; max: number };
}

export interface KafkaRequestRecord {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  /** ApiVersions v3+: `client_software_name/version`. */
  clientSoftware?: string;
  /** Metadata: the topics asked for (null = all); ids when asked by id. */
  topics?: (string | null)[] | null;
  allowAutoTopicCreation?: boolean;
  /** Bytes left after the body was decoded per the schema (0 for a well-formed request). */
  trailingBytes: number;
  answered: boolean;
}

export class KafkaBrokerStandIn {
  readonly host: string;
  readonly nodeId: number;
  readonly clusterId: string;
  private portValue: number;
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  private topics: Required<StandInTopic>[] = [];
  private readonly otherBrokers: StandInBroker[];
  private readonly metadataVersions: { min: number; max: number };
  private hang: boolean | 'metadata' = false;
  /** Every request decoded, in order. */
  readonly requests: KafkaRequestRecord[] = [];
  /** Connections accepted since creation. */
  acceptedConnections = 0;

  constructor(opts: KafkaBrokerStandInOptions = {}) {
    this.host = opts.host ?? '127.0.0.1';
    this.portValue = opts.port ?? 0;
    this.nodeId = opts.nodeId ?? 1;
    this.clusterId = opts.clusterId ?? 'stand-in-cluster-0001';
    this.otherBrokers = opts.otherBrokers ?? [];
    this.metadataVersions = opts.metadataVersions ?? { min: 9, max: 12 };
    if (this.metadataVersions.min < 9 || this.metadataVersions.max > 12 || this.metadataVersions.min > this.metadataVersions.max) {
      throw new RangeError('KafkaBrokerStandIn encodes Metadata versions 9-12 only');
    }
    this.setTopics(opts.topics ?? []);
  }

  get port(): number {
    return this.portValue;
  }

  /** `host:port`, as a bootstrap broker string. */
  get address(): string {
    return `${this.host}:${this.portValue}`;
  }

  get listening(): boolean {
    return this.server?.listening ?? false;
  }

  /** Client connections currently open on the broker side. */
  get openConnections(): number {
    return this.sockets.size;
  }

  setTopics(topics: readonly (string | StandInTopic)[]): void {
    this.topics = topics.map((t) => {
      const topic = typeof t === 'string' ? { name: t } : t;
      return { name: topic.name, partitions: topic.partitions ?? 1, internal: topic.internal ?? false };
    });
  }

  /** true: never answer anything; 'metadata': answer ApiVersions, never Metadata; false: answer normally (requests held so far stay unanswered). */
  setHang(mode: boolean | 'metadata'): void {
    this.hang = mode;
  }

  async start(): Promise<this> {
    if (this.server) return this;
    const server = net.createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.portValue, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.portValue = (server.address() as net.AddressInfo).port;
    this.server = server;
    return this;
  }

  /** Stops listening and destroys every open connection: clients get ECONNREFUSED until `start()`. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // ------------------------------------------------------------ connection handling

  private accept(socket: net.Socket): void {
    this.acceptedConnections += 1;
    this.sockets.add(socket);
    socket.setNoDelay(true);
    let buffered: Buffer = Buffer.alloc(0);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      while (buffered.length >= 4) {
        const size = buffered.readInt32BE(0);
        if (size < 0 || size > MAX_FRAME_BYTES) {
          socket.destroy();
          return;
        }
        if (buffered.length < 4 + size) break;
        const frame = buffered.subarray(4, 4 + size);
        buffered = buffered.subarray(4 + size);
        let answer: Buffer | null | undefined;
        try {
          answer = this.handleFrame(frame);
        } catch {
          answer = null;
        }
        if (answer === undefined) continue; // held (hang)
        if (answer === null) {
          socket.destroy();
          return;
        }
        socket.write(answer);
      }
    });
  }

  /** The size-prefixed response, `undefined` to hold it (hang), or null to close the connection. */
  private handleFrame(frame: Buffer): Buffer | null | undefined {
    const r = new Reader(frame);
    const apiKey = r.int16();
    const apiVersion = r.int16();
    const correlationId = r.int32();
    const clientId = r.nullableString(); // the header's client_id is never compact
    const record: KafkaRequestRecord = { apiKey, apiVersion, correlationId, clientId, trailingBytes: 0, answered: false };

    if (apiKey === API_KEY_API_VERSIONS) {
      this.requests.push(record);
      if (apiVersion > 3) {
        // Kafka answers an unknown ApiVersions version with a v0 body (UNSUPPORTED_VERSION) so the client can downgrade.
        return this.respond(record, false, this.apiVersionsBody(0, ERROR_UNSUPPORTED_VERSION));
      }
      if (apiVersion >= 3) {
        r.taggedFields(); // request header v2
        const name = r.compactString();
        const version = r.compactString();
        r.taggedFields();
        record.clientSoftware = `${name}/${version}`;
      }
      record.trailingBytes = r.remaining;
      if (this.hang === true) return undefined;
      // The ApiVersions response header is always v0 (no tagged fields), even for the flexible v3.
      return this.respond(record, false, this.apiVersionsBody(apiVersion, ERROR_NONE));
    }

    if (apiKey === API_KEY_METADATA) {
      if (apiVersion < this.metadataVersions.min || apiVersion > this.metadataVersions.max) return null;
      r.taggedFields(); // request header v2
      const topics = r.compactNullableArray(() => {
        const id = apiVersion >= 10 ? r.uuid() : null;
        const name = r.compactNullableString();
        r.taggedFields();
        return { id, name };
      });
      const allowAutoTopicCreation = r.bool();
      if (apiVersion <= 10) r.bool(); // include_cluster_authorized_operations (v8-10)
      r.bool(); // include_topic_authorized_operations
      r.taggedFields();
      record.topics = topics === null ? null : topics.map((t) => t.name ?? (t.id ? `id:${t.id.toString('hex')}` : null));
      record.allowAutoTopicCreation = allowAutoTopicCreation;
      record.trailingBytes = r.remaining;
      this.requests.push(record);
      if (this.hang !== false) return undefined;
      return this.respond(record, true, this.metadataBody(apiVersion, topics));
    }

    this.requests.push(record);
    return null;
  }

  private respond(record: KafkaRequestRecord, headerTaggedFields: boolean, body: Buffer): Buffer {
    record.answered = true;
    const header = new Writer().int32(record.correlationId);
    if (headerTaggedFields) header.taggedFields();
    const payload = Buffer.concat([header.toBuffer(), body]);
    return Buffer.concat([new Writer().int32(payload.length).toBuffer(), payload]);
  }

  private advertised(): { key: number; min: number; max: number }[] {
    return [
      { key: API_KEY_METADATA, min: this.metadataVersions.min, max: this.metadataVersions.max },
      { key: API_KEY_API_VERSIONS, min: 0, max: 3 },
    ];
  }

  private apiVersionsBody(version: number, errorCode: number): Buffer {
    const w = new Writer().int16(errorCode);
    const apis = this.advertised();
    if (version >= 3) {
      w.compactArray(apis, (a) => w.int16(a.key).int16(a.min).int16(a.max).taggedFields());
      w.int32(0); // throttle_time_ms
      w.taggedFields(); // SupportedFeatures etc. would be tagged fields here
    } else {
      w.array(apis, (a) => w.int16(a.key).int16(a.min).int16(a.max));
      if (version >= 1) w.int32(0);
    }
    return w.toBuffer();
  }

  private metadataBody(version: number, requested: { id: Buffer | null; name: string | null }[] | null): Buffer {
    const w = new Writer().int32(0); // throttle_time_ms
    const brokers: StandInBroker[] = [{ nodeId: this.nodeId, host: this.host, port: this.portValue, rack: null }, ...this.otherBrokers];
    w.compactArray(brokers, (b) =>
      w
        .int32(b.nodeId)
        .compactString(b.host)
        .int32(b.port)
        .compactNullableString(b.rack ?? null)
        .taggedFields(),
    );
    w.compactNullableString(this.clusterId);
    w.int32(this.nodeId); // controller_id

    type Entry = { error: number; name: string | null; id: Buffer; topic: Required<StandInTopic> | null };
    const entries: Entry[] =
      requested === null
        ? this.topics.map((t) => ({ error: ERROR_NONE, name: t.name, id: topicId(t.name), topic: t }))
        : requested.map((q) => {
            const byName = q.name !== null;
            const topic = byName ? this.topics.find((t) => t.name === q.name) : this.topics.find((t) => q.id !== null && topicId(t.name).equals(q.id));
            if (topic) return { error: ERROR_NONE, name: topic.name, id: topicId(topic.name), topic };
            return { error: byName ? ERROR_UNKNOWN_TOPIC_OR_PARTITION : ERROR_UNKNOWN_TOPIC_ID, name: q.name, id: q.id ?? Buffer.alloc(16), topic: null };
          });
    w.compactArray(entries, (e) => {
      w.int16(e.error).compactNullableString(e.name);
      if (version >= 10) w.raw(e.id);
      w.bool(e.topic?.internal ?? false);
      const partitions = e.topic ? Array.from({ length: e.topic.partitions }, (_, i) => i) : [];
      w.compactArray(partitions, (p) => {
        w.int16(ERROR_NONE).int32(p).int32(this.nodeId).int32(0); // error_code, partition_index, leader_id, leader_epoch
        w.compactArray([this.nodeId], (n) => w.int32(n)); // replica_nodes
        w.compactArray([this.nodeId], (n) => w.int32(n)); // isr_nodes
        w.compactArray([] as number[], (n) => w.int32(n)); // offline_replicas
        w.taggedFields();
      });
      w.int32(AUTHORIZED_OPERATIONS_OMITTED);
      w.taggedFields();
    });
    if (version <= 10) w.int32(AUTHORIZED_OPERATIONS_OMITTED); // cluster_authorized_operations (v8-10)
    w.taggedFields();
    return w.toBuffer();
  }
}

/** A stable 16-byte topic id derived from the name (never all zeros). */
function topicId(name: string): Buffer {
  const id = createHash('sha256').update(`topic:${name}`).digest().subarray(0, 16);
  id[0] = (id[0] ?? 0) | 1;
  return id;
}

// ---------------------------------------------------------------- primitive encodings

class Writer {
  private readonly parts: Buffer[] = [];

  int16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16BE(v);
    return this.raw(b);
  }
  int32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    return this.raw(b);
  }
  bool(v: boolean): this {
    return this.raw(Buffer.from([v ? 1 : 0]));
  }
  uvarint(v: number): this {
    const bytes: number[] = [];
    let n = v >>> 0;
    while (n >= 0x80) {
      bytes.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    bytes.push(n);
    return this.raw(Buffer.from(bytes));
  }
  /** COMPACT_STRING: uvarint(length + 1), UTF-8 bytes. */
  compactString(s: string): this {
    const b = Buffer.from(s, 'utf8');
    return this.uvarint(b.length + 1).raw(b);
  }
  /** COMPACT_NULLABLE_STRING: 0 for null. */
  compactNullableString(s: string | null): this {
    return s === null ? this.uvarint(0) : this.compactString(s);
  }
  /** COMPACT_ARRAY: uvarint(count + 1), elements. */
  compactArray<T>(items: readonly T[], each: (item: T) => unknown): this {
    this.uvarint(items.length + 1);
    for (const item of items) each(item);
    return this;
  }
  /** ARRAY (classic): int32 count, elements. */
  array<T>(items: readonly T[], each: (item: T) => unknown): this {
    this.int32(items.length);
    for (const item of items) each(item);
    return this;
  }
  /** An empty TAG_BUFFER. */
  taggedFields(): this {
    return this.uvarint(0);
  }
  raw(b: Buffer): this {
    this.parts.push(b);
    return this;
  }
  toBuffer(): Buffer {
    return Buffer.concat(this.parts);
  }
}

class Reader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}

  get remaining(): number {
    return this.buf.length - this.pos;
  }
  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new RangeError('request truncated');
  }
  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  bool(): boolean {
    this.need(1);
    return this.buf[this.pos++] !== 0;
  }
  uvarint(): number {
    let value = 0;
    for (let shift = 0; shift <= 28; shift += 7) {
      this.need(1);
      const byte = this.buf[this.pos++] as number;
      value |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return value >>> 0;
    }
    throw new RangeError('varint too long');
  }
  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  uuid(): Buffer {
    return Buffer.from(this.bytes(16));
  }
  /** NULLABLE_STRING (classic): int16 length, -1 for null. */
  nullableString(): string | null {
    const len = this.int16();
    return len < 0 ? null : this.bytes(len).toString('utf8');
  }
  compactNullableString(): string | null {
    const len = this.uvarint();
    return len === 0 ? null : this.bytes(len - 1).toString('utf8');
  }
  compactString(): string {
    const s = this.compactNullableString();
    if (s === null) throw new RangeError('null in a COMPACT_STRING');
    return s;
  }
  compactNullableArray<T>(each: () => T): T[] | null {
    const n = this.uvarint();
    if (n === 0) return null;
    return Array.from({ length: n - 1 }, each);
  }
  /** TAG_BUFFER: uvarint count, then (tag uvarint, size uvarint, bytes) each; skipped. */
  taggedFields(): void {
    const count = this.uvarint();
    for (let i = 0; i < count; i++) {
      this.uvarint();
      this.bytes(this.uvarint());
    }
  }
}
