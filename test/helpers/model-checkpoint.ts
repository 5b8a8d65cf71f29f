// Broken and altered checkpoint folders for the loader tests, built from a golden case.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { openSafetensors } from "../../src/model/safetensors.ts";

export interface RawTensor {
  dtype: string;
  shape: number[];
  data: Uint8Array;
}

/** Writes a safetensors file: 8-byte LE header length, JSON header, raw data. */
export function writeSafetensors(file: string, tensors: Record<string, RawTensor>): void {
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.length] };
    offset += t.data.length;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  fs.writeFileSync(file, Buffer.concat([len, Buffer.from(json), ...Object.values(tensors).map((t) => Buffer.from(t.data))]));
}

export function f32Tensor(shape: number[], data: Float32Array): RawTensor {
  return { dtype: "F32", shape, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** A fresh temporary folder; removed by the returned cleanup. */
export function tempDir(prefix = "kn-model-"): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Copies a single-file checkpoint folder, letting `edit` change its tensors (as F32) first. */
export function copyCheckpoint(from: string, to: string, edit?: (tensors: Record<string, RawTensor>) => void): void {
  for (const f of fs.readdirSync(from)) {
    if (!f.endsWith(".safetensors") && f !== "golden.json") fs.copyFileSync(path.join(from, f), path.join(to, f));
  }
  const source = openSafetensors(path.join(from, "model.safetensors"));
  const tensors: Record<string, RawTensor> = {};
  for (const name of source.names()) {
    if (source.dtype(name) !== "F32" && source.dtype(name) !== "F16" && source.dtype(name) !== "BF16") continue;
    const t = source.read(name);
    tensors[name] = f32Tensor(t.shape, t.data);
  }
  edit?.(tensors);
  writeSafetensors(path.join(to, "model.safetensors"), tensors);
}
