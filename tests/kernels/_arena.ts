import fc from "fast-check";

/** A shared memory with a bump allocator, for kernel tests. */
export class Arena {
  readonly memory: WebAssembly.Memory;
  #top = 64; // keep offset 0 unused: a zero offset in a test is a bug, not data

  constructor(bytes: number) {
    const pages = Math.ceil(bytes / 65536);
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  }

  get bytes(): Uint8Array {
    return new Uint8Array(this.memory.buffer);
  }

  get view(): DataView {
    return new DataView(this.memory.buffer);
  }

  /** Takes `byteLength` bytes aligned to `align`; returns the offset. */
  take(byteLength: number, align = 8): number {
    const at = Math.ceil(this.#top / align) * align;
    this.#top = at + byteLength;
    if (this.#top > this.memory.buffer.byteLength) throw new RangeError("test arena is full");
    return at;
  }

  /** The same bytes in a second memory (for running the oracle side by side). */
  clone(): Arena {
    const copy = new Arena(this.memory.buffer.byteLength);
    copy.bytes.set(this.bytes);
    copy.#top = this.#top;
    return copy;
  }
}

/** Records weighted toward the edges: empty, one byte, long, shared prefixes, all equal. */
export function recordsArbitrary(maxLength: number): fc.Arbitrary<Uint8Array[]> {
  const alphabet = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(0x61, 0x62, 0x00, 0xff) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
  );
  const record = fc.oneof(
    { weight: 4, arbitrary: fc.uint8Array({ minLength: 0, maxLength: 12 }).map((r) => r) },
    { weight: 4, arbitrary: fc.array(alphabet, { maxLength: 20 }).map((a) => Uint8Array.from(a)) },
    {
      weight: 1,
      arbitrary: fc.array(alphabet, { minLength: 0, maxLength: maxLength }).map((a) =>
        Uint8Array.from(a)
      ),
    },
    // A long shared prefix, so the sorts go many digits deep.
    {
      weight: 2,
      arbitrary: fc.array(alphabet, { maxLength: 4 }).map((tail) =>
        Uint8Array.from([...new Array(Math.min(40, maxLength)).fill(0x61), ...tail])
      ),
    },
  );
  return fc.oneof(
    { weight: 6, arbitrary: fc.array(record, { maxLength: 60 }) },
    { weight: 1, arbitrary: fc.array(record, { maxLength: 1 }) },
    { weight: 1, arbitrary: fc.tuple(record, fc.nat(50)).map(([r, n]) => new Array(n).fill(r)) },
  );
}

/** Byte order, then length (memcmp). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const common = Math.min(a.length, b.length);
  for (let i = 0; i < common; i += 1) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** Decodes a payload stream of varint length + bytes records. */
export function decodeRecords(stream: Uint8Array): Uint8Array[] {
  const records: Uint8Array[] = [];
  let at = 0;
  while (at < stream.length) {
    let length = 0;
    for (let shift = 0;; shift += 7) {
      const byte = stream[at++]!;
      length += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) break;
    }
    records.push(stream.slice(at, at + length));
    at += length;
  }
  return records;
}

/** varint length + bytes of each record, concatenated. */
export function encodeRecords(records: readonly Uint8Array[]): Uint8Array {
  const parts: number[] = [];
  for (const record of records) {
    let value = record.length;
    while (value >= 0x80) {
      parts.push((value & 0x7f) | 0x80);
      value = Math.floor(value / 0x80);
    }
    parts.push(value);
    parts.push(...record);
  }
  return Uint8Array.from(parts);
}
