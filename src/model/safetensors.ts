// Reader for the safetensors format (no npm package exists): an 8-byte little-endian header
// length, a JSON header {name: {dtype, shape, data_offsets}}, then raw little-endian data.
// Tensors are read one by one from disk on demand, so buffers never exceed one tensor and
// unused entries (GPT-2's attn.bias buffers, BERT's pooler) cost nothing.
import fs from "node:fs";
import path from "node:path";
import { ModelError } from "./errors.ts";

export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

interface Entry {
  dtype: string;
  shape: number[];
  begin: number; // absolute byte offset in the file
  end: number;
  file: string;
}

const BYTES_PER_ELEMENT: Record<string, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1, U16: 2, U32: 4, U64: 8,
  F8_E4M3: 1, F8_E5M2: 1,
};
const CONVERTIBLE = new Set(["F32", "F16", "BF16"]);

/** A set of named tensors, possibly spread over several files. */
export interface TensorSource {
  has(name: string): boolean;
  names(): string[];
  dtype(name: string): string;
  shape(name: string): number[];
  /** Reads and converts to float32 (F32, F16, BF16). */
  read(name: string): HostTensor;
}

function parseHeader(file: string): Map<string, Entry> {
  const fd = fs.openSync(file, "r");
  try {
    const size = fs.fstatSync(fd).size;
    const bad = (why: string) => new ModelError("bad-safetensors", `${file} is not a valid safetensors file: ${why}`);
    if (size < 8) throw bad("shorter than 8 bytes");
    const lenBuf = Buffer.alloc(8);
    fs.readSync(fd, lenBuf, 0, 8, 0);
    const headerLen = Number(lenBuf.readBigUInt64LE(0));
    if (headerLen <= 0 || 8 + headerLen > size) throw bad(`header length ${headerLen} does not fit in ${size} bytes`);
    const headerBuf = Buffer.alloc(headerLen);
    fs.readSync(fd, headerBuf, 0, headerLen, 8);
    let header: unknown;
    try {
      header = JSON.parse(headerBuf.toString("utf8"));
    } catch {
      throw bad("header is not JSON");
    }
    if (!header || typeof header !== "object" || Array.isArray(header)) throw bad("header is not a JSON object");
    const dataStart = 8 + headerLen;
    const entries = new Map<string, Entry>();
    for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
      if (name === "__metadata__") continue;
      const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (typeof e?.dtype !== "string" || !Array.isArray(e.shape) || !Array.isArray(e.data_offsets) || e.data_offsets.length !== 2) {
        throw bad(`entry ${name} lacks dtype/shape/data_offsets`);
      }
      const shape = e.shape.map(Number);
      const [b, en] = e.data_offsets.map(Number);
      if (!(b >= 0 && en >= b && dataStart + en <= size)) throw bad(`entry ${name} points outside the file`);
      const width = BYTES_PER_ELEMENT[e.dtype];
      const count = shape.reduce((a, d) => a * d, 1);
      if (width !== undefined && count * width !== en - b) {
        throw bad(`entry ${name}: ${en - b} bytes for shape [${shape}] of ${e.dtype}`);
      }
      entries.set(name, { dtype: e.dtype, shape, begin: dataStart + b, end: dataStart + en, file });
    }
    return entries;
  } finally {
    fs.closeSync(fd);
  }
}

function toFloat32(dtype: string, bytes: Buffer): Float32Array {
  if (dtype === "F32") {
    const out = new Float32Array(bytes.length / 4);
    new Uint8Array(out.buffer).set(bytes); // copy: the Buffer may be unaligned; data is LE like the host
    return out;
  }
  if (dtype === "BF16") {
    // bfloat16 is the top half of a float32
    const out = new Float32Array(bytes.length / 2);
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < out.length; i++) bits[i] = bytes.readUInt16LE(2 * i) << 16;
    return out;
  }
  // F16
  const out = new Float32Array(bytes.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = halfToFloat(bytes.readUInt16LE(2 * i));
  return out;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // subnormal
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

class EntrySource implements TensorSource {
  constructor(private readonly entries: Map<string, Entry>) {}
  has(name: string): boolean {
    return this.entries.has(name);
  }
  names(): string[] {
    return [...this.entries.keys()];
  }
  private entry(name: string): Entry {
    const e = this.entries.get(name);
    if (!e) throw new ModelError("missing-tensor", `tensor ${name} is not in the checkpoint`);
    return e;
  }
  dtype(name: string): string {
    return this.entry(name).dtype;
  }
  shape(name: string): number[] {
    return [...this.entry(name).shape];
  }
  read(name: string): HostTensor {
    const e = this.entry(name);
    if (!CONVERTIBLE.has(e.dtype)) {
      throw new ModelError(
        "unsupported-dtype",
        `tensor ${name} in ${e.file} has dtype ${e.dtype}; only F32, F16 and BF16 weights are supported`,
      );
    }
    const bytes = Buffer.alloc(e.end - e.begin);
    const fd = fs.openSync(e.file, "r");
    try {
      let done = 0;
      while (done < bytes.length) {
        const n = fs.readSync(fd, bytes, done, bytes.length - done, e.begin + done);
        if (n === 0) throw new ModelError("bad-safetensors", `${e.file} ended while reading ${name}`);
        done += n;
      }
    } finally {
      fs.closeSync(fd);
    }
    return { shape: [...e.shape], data: toFloat32(e.dtype, bytes) };
  }
}

/** One model.safetensors file. */
export function openSafetensors(file: string): TensorSource {
  return new EntrySource(parseHeader(file));
}

/** A sharded checkpoint described by model.safetensors.index.json ({weight_map: {name: shard}}). */
export function openShardedSafetensors(indexFile: string): TensorSource {
  let index: { weight_map?: Record<string, string> };
  try {
    index = JSON.parse(fs.readFileSync(indexFile, "utf8"));
  } catch (err) {
    throw new ModelError("bad-safetensors", `cannot read ${indexFile}: ${(err as Error).message}`);
  }
  if (!index.weight_map || typeof index.weight_map !== "object") {
    throw new ModelError("bad-safetensors", `${indexFile} has no weight_map`);
  }
  const dir = path.dirname(indexFile);
  const entries = new Map<string, Entry>();
  const shards = new Map<string, Map<string, Entry>>();
  for (const [name, shard] of Object.entries(index.weight_map)) {
    let shardEntries = shards.get(shard);
    if (!shardEntries) {
      const file = path.join(dir, shard);
      if (!fs.existsSync(file)) throw new ModelError("missing-file", `shard ${shard} listed in ${indexFile} does not exist`);
      shardEntries = parseHeader(file);
      shards.set(shard, shardEntries);
    }
    const e = shardEntries.get(name);
    if (!e) throw new ModelError("missing-tensor", `tensor ${name} is listed in ${indexFile} but not stored in ${shard}`);
    entries.set(name, e);
  }
  return new EntrySource(entries);
}
