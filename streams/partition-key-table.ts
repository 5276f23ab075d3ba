/**
 * A hash table from a partition (env, service, component) to a number, held outside V8's heap.
 * Each distinct name is stored once, as bytes (`NameTable`), and a partition is the three ids
 * of its names: 100,000 partitions of a thousand services take ~3 MB here, in typed arrays and
 * Buffers, instead of ~15 MB of strings and map tables on the heap, where each would survive
 * young-generation collections, be copied and promoted on the way, and make V8 grow its young
 * generation and old-generation limit for the whole sync. Nothing grows by copying but the slots.
 *
 * Names are exact: each is stored with its length and encoding (UTF-8, or UTF-16 for a name
 * holding a surrogate code unit, which UTF-8 could not keep apart from U+FFFD).
 */
const PAGE_BITS = 14;
const PAGE_ENTRIES = 1 << PAGE_BITS;
const CHUNK_BITS = 20;
const CHUNK_BYTES = 1 << CHUNK_BITS;
/**
 * A table starts small and doubles its first page, first chunk and slots up to full size: most
 * tenants have a few dozen partitions, and a thousand of them syncing every few minutes would
 * otherwise allocate (and zero) a megabyte and a half of ArrayBuffers per sync, which V8 counts
 * as external memory and answers with full collections.
 */
const FIRST_PAGE_ENTRIES = 64;
const FIRST_CHUNK_BYTES = 4096;
const FIRST_SLOTS = 128;
const SURROGATE = /[\uD800-\uDFFF]/;

/** Entries of `stride` int32s in pages that never move once full size (the first grows to it); `count` of them used. */
class Entries {
  private pages: Int32Array[] = [];
  count = 0;

  constructor(private readonly stride: number) {}

  /** Appends an entry; returns its index. */
  push(): number {
    const { count, stride } = this;
    if (count < PAGE_ENTRIES) {
      const first = this.pages[0];
      if (first === undefined) this.pages.push(new Int32Array(FIRST_PAGE_ENTRIES * stride));
      else if (first.length === count * stride) {
        const grown = new Int32Array(first.length * 2);
        grown.set(first);
        this.pages[0] = grown;
        freeNow(first.buffer as ArrayBuffer);
      }
    } else if ((count & (PAGE_ENTRIES - 1)) === 0) this.pages.push(new Int32Array(PAGE_ENTRIES * stride));
    return this.count++;
  }

  get(entry: number, field: number): number {
    return this.pages[entry >>> PAGE_BITS]![(entry & (PAGE_ENTRIES - 1)) * this.stride + field]!;
  }

  set(entry: number, field: number, value: number): void {
    this.pages[entry >>> PAGE_BITS]![(entry & (PAGE_ENTRIES - 1)) * this.stride + field] = value;
  }

  buffers(): ArrayBuffer[] {
    return this.pages.map((p) => p.buffer as ArrayBuffer);
  }

  clear(): void {
    this.pages = [];
    this.count = 0;
  }
}

/** Open addressing with linear probing over an Int32Array of entry index + 1 (0: empty), at most half full. */
class Slots {
  table = new Int32Array(FIRST_SLOTS);

  /** Makes room for one more of `count` entries, rehashing them with `hashOf` when the table would be more than half full. */
  reserve(count: number, hashOf: (entry: number) => number): void {
    if ((count + 1) * 2 <= this.table.length) return;
    const old = this.table;
    this.table = new Int32Array(old.length * 2);
    freeNow(old.buffer as ArrayBuffer);
    for (let entry = 0; entry < count; entry++) this.place(entry, hashOf(entry));
  }

  place(entry: number, hash: number): void {
    const mask = this.table.length - 1;
    let slot = hash & mask;
    while (this.table[slot] !== 0) slot = (slot + 1) & mask;
    this.table[slot] = entry + 1;
  }
}

/** Each distinct name once: its bytes in 1 MB chunks (the first grows to that size), an id per name. */
class NameTable {
  private chunks: Buffer[] = [];
  private chunkUsed = 0;
  /** Per name: where its bytes are (chunk << CHUNK_BITS | offset), their length × 2 + encoding (1: UTF-16). */
  private readonly entries = new Entries(2);
  private readonly slots = new Slots();
  private scratch = Buffer.allocUnsafe(1024);

  /** The id of `name`, added when new (`add`), or -1 when it is not known. */
  id(name: string, add: boolean): number {
    const utf16 = SURROGATE.test(name);
    const most = name.length * (utf16 ? 2 : 3);
    if (most > this.scratch.length) this.scratch = Buffer.allocUnsafe(Math.max(most, this.scratch.length * 2));
    const length = this.scratch.write(name, 0, most, utf16 ? 'utf16le' : 'utf8');
    const header = length * 2 + (utf16 ? 1 : 0);
    const hash = hashBytes(this.scratch, 0, length, utf16 ? 1 : 0);
    const { table } = this.slots;
    const mask = table.length - 1;
    for (let slot = hash & mask; table[slot] !== 0; slot = (slot + 1) & mask) {
      const entry = table[slot]! - 1;
      if (this.entries.get(entry, 1) !== header) continue;
      const where = this.entries.get(entry, 0);
      const offset = where & (CHUNK_BYTES - 1);
      if (this.scratch.compare(this.chunks[where >>> CHUNK_BITS]!, offset, offset + length, 0, length) === 0) return entry;
    }
    if (!add) return -1;
    this.slots.reserve(this.entries.count, (entry) => this.hashOf(entry));
    this.makeRoom(length);
    const chunk = this.chunks.length - 1;
    this.scratch.copy(this.chunks[chunk]!, this.chunkUsed, 0, length);
    const entry = this.entries.push();
    this.entries.set(entry, 0, (chunk << CHUNK_BITS) | this.chunkUsed);
    this.entries.set(entry, 1, header);
    this.chunkUsed += length;
    this.slots.place(entry, hash);
    return entry;
  }

  /** The last chunk with room for `length` more bytes: grown (its bytes keep their offsets) while under 1 MB, else a new one. */
  private makeRoom(length: number): void {
    const index = this.chunks.length - 1;
    const last = this.chunks[index];
    if (last !== undefined && this.chunkUsed + length <= last.length) return;
    const needed = this.chunkUsed + length;
    if (last !== undefined && last.length < CHUNK_BYTES && needed <= CHUNK_BYTES) {
      let size = last.length * 2;
      while (size < needed) size *= 2;
      const grown = Buffer.allocUnsafeSlow(Math.min(size, CHUNK_BYTES));
      last.copy(grown, 0, 0, this.chunkUsed);
      this.chunks[index] = grown;
      freeNow(last.buffer as ArrayBuffer);
      return;
    }
    // A name longer than a chunk (names are a few hundred bytes at most) gets one of its own.
    this.chunks.push(Buffer.allocUnsafeSlow(last === undefined && length <= FIRST_CHUNK_BYTES ? FIRST_CHUNK_BYTES : Math.max(CHUNK_BYTES, length)));
    this.chunkUsed = 0;
  }

  /** The name of an id, decoded anew. */
  name(id: number): string {
    const where = this.entries.get(id, 0);
    const header = this.entries.get(id, 1);
    const offset = where & (CHUNK_BYTES - 1);
    return this.chunks[where >>> CHUNK_BITS]!.toString(header & 1 ? 'utf16le' : 'utf8', offset, offset + (header >>> 1));
  }

  release(): void {
    const buffers = [this.slots.table.buffer as ArrayBuffer, ...this.entries.buffers(), ...this.chunks.map((c) => c.buffer as ArrayBuffer)];
    this.chunks = [];
    this.chunkUsed = 0;
    this.entries.clear();
    this.slots.table = new Int32Array(FIRST_SLOTS);
    for (const buffer of buffers) freeNow(buffer);
  }

  private hashOf(entry: number): number {
    const where = this.entries.get(entry, 0);
    const header = this.entries.get(entry, 1);
    const offset = where & (CHUNK_BYTES - 1);
    return hashBytes(this.chunks[where >>> CHUNK_BITS]!, offset, offset + (header >>> 1), header & 1);
  }
}

export class PartitionKeyTable {
  private readonly names = new NameTable();
  /** Per partition: the ids of its env, service and component names, its value. */
  private readonly entries = new Entries(4);
  private readonly slots = new Slots();
  /** The latest name looked up at each place and its id: the partitions of a folder share their env and service. */
  private readonly lastName: (string | undefined)[] = [undefined, undefined, undefined];
  private readonly lastId = [-1, -1, -1];

  get size(): number {
    return this.entries.count;
  }

  /** The entry of the partition, or -1. */
  find(env: string, serviceName: string, componentName: string): number {
    const e = this.nameId(0, env, false);
    const s = e === -1 ? -1 : this.nameId(1, serviceName, false);
    const c = s === -1 ? -1 : this.nameId(2, componentName, false);
    return c === -1 ? -1 : this.entryOf(e, s, c);
  }

  /** Adds the partition (not in the table: `find` said -1 for it) with `value`; returns its entry. */
  add(env: string, serviceName: string, componentName: string, value: number): number {
    const e = this.nameId(0, env, true);
    const s = this.nameId(1, serviceName, true);
    const c = this.nameId(2, componentName, true);
    this.slots.reserve(this.entries.count, (entry) => hashIds(this.entries.get(entry, 0), this.entries.get(entry, 1), this.entries.get(entry, 2)));
    const entry = this.entries.push();
    this.entries.set(entry, 0, e);
    this.entries.set(entry, 1, s);
    this.entries.set(entry, 2, c);
    this.entries.set(entry, 3, value);
    this.slots.place(entry, hashIds(e, s, c));
    return entry;
  }

  value(entry: number): number {
    return this.entries.get(entry, 3);
  }

  /** The names of an entry's partition, decoded anew. */
  keyOf(entry: number): { env: string; serviceName: string; componentName: string } {
    const { names, entries } = this;
    return { env: names.name(entries.get(entry, 0)), serviceName: names.name(entries.get(entry, 1)), componentName: names.name(entries.get(entry, 2)) };
  }

  /**
   * Gives the table's memory back now, not at V8's next full collection (the table object has
   * usually been promoted by then): each typed array's memory is moved into a clone nobody
   * holds, freed with the next young-generation collection. The table is empty afterwards.
   */
  release(): void {
    const buffers = [this.slots.table.buffer as ArrayBuffer, ...this.entries.buffers()];
    this.entries.clear();
    this.slots.table = new Int32Array(FIRST_SLOTS);
    this.names.release();
    this.lastName.fill(undefined);
    this.lastId.fill(-1);
    for (const buffer of buffers) freeNow(buffer);
  }

  private nameId(place: number, name: string, add: boolean): number {
    if (name === this.lastName[place] && this.lastId[place] !== -1) return this.lastId[place]!;
    const id = this.names.id(name, add);
    this.lastName[place] = name;
    this.lastId[place] = id;
    return id;
  }

  private entryOf(e: number, s: number, c: number): number {
    const { table } = this.slots;
    const mask = table.length - 1;
    for (let slot = hashIds(e, s, c) & mask; table[slot] !== 0; slot = (slot + 1) & mask) {
      const entry = table[slot]! - 1;
      if (this.entries.get(entry, 0) === e && this.entries.get(entry, 1) === s && this.entries.get(entry, 2) === c) return entry;
    }
    return -1;
  }
}

/** FNV-1a over `bytes[from, to)` and the encoding. */
function hashBytes(bytes: Buffer, from: number, to: number, encoding: number): number {
  let hash = 0x811c9dc5 ^ encoding;
  for (let i = from; i < to; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
  return hash | 0;
}

/** A mix of three ids (each multiplied by an odd constant, then the bits folded). */
function hashIds(e: number, s: number, c: number): number {
  let hash = Math.imul(e, 0x9e3779b1) ^ Math.imul(s, 0x85ebca77) ^ Math.imul(c, 0xc2b2ae3d);
  hash ^= hash >>> 15;
  hash = Math.imul(hash, 0x2c1b3c6d);
  return (hash ^ (hash >>> 13)) | 0;
}

/** The memory of `buffer` moved into a clone nobody holds: freed with the next young-generation collection. */
export function freeNow(buffer: ArrayBuffer): void {
  if (buffer.byteLength > 0) structuredClone(buffer, { transfer: [buffer] });
}
