// A vocabulary matrix E [V, d]: the input embedding table and (tied, or untied as its own table)
// the output layer logits = x·Eᵀ. WebGPU binds every tensor a shader reads as one storage buffer,
// and adapters cap a binding (llvmpipe: 128 MiB; GPUs: 2-4 GiB), while real vocabularies are
// larger (mGPT: 100000 × 2048 floats = 819 MB). So the table is kept in row blocks that each fit
// one binding; lookups gather per block, logits are computed per block and concatenated. On wasm
// there is one block plus a pre-transposed copy for the logits (see dense.ts for why).
import * as tf from "./tf.ts";
import { prefersPretransposedWeights } from "./backend.ts";
import type { HostTensor } from "./safetensors.ts";
import { bindingLimitBytes, placeOnDevice } from "./webgpu.ts";

export interface VocabTableOptions {
  /** Largest block in bytes (default: no limit, one block). */
  maxBlockBytes?: number;
  /** Keep Eᵀ per block so the logits and their gradient are plain matmuls (wasm). */
  pretransposed?: boolean;
}

export class VocabTable {
  readonly vocabSize: number;
  readonly hidden: number;
  /** Row blocks of E: block i holds rows offsets[i] .. offsets[i] + blocks[i].shape[0] - 1. */
  private readonly blocks: tf.Tensor2D[];
  private readonly transposed: tf.Tensor2D[] | null;
  private readonly offsets: number[];
  private readonly logitsWithGrad: (x: tf.Tensor) => tf.Tensor;

  constructor(table: HostTensor, options: VocabTableOptions = {}) {
    const [V, d] = table.shape;
    this.vocabSize = V;
    this.hidden = d;
    const rowsPerBlock = Math.max(1, Math.min(V, Math.floor((options.maxBlockBytes ?? Infinity) / (4 * d))));
    this.blocks = [];
    this.offsets = [];
    for (let start = 0; start < V; start += rowsPerBlock) {
      const rows = Math.min(rowsPerBlock, V - start);
      this.offsets.push(start);
      this.blocks.push(placeOnDevice(tf.tensor2d(table.data.subarray(start * d, (start + rows) * d), [rows, d])));
    }
    this.transposed = options.pretransposed ? this.blocks.map((b) => tf.keep(tf.transpose(b))) : null;
    // y = x·Eᵀ, dy/dx = dy·E: with the blocks as they are stored, both are plain matmuls (or use
    // the transposed copies), never a transpose of the table per call
    this.logitsWithGrad = tf.customGrad((...inputs) => {
      const x = inputs[0] as tf.Tensor2D;
      const parts = this.blocks.map((b, i) => (this.transposed ? tf.matMul(x, this.transposed[i]) : tf.matMul(x, b, false, true)));
      return {
        value: parts.length === 1 ? parts[0] : tf.concat(parts, 1),
        gradFunc: (dy: tf.Tensor) => {
          const pieces = this.blocks.length === 1 ? [dy] : tf.split(dy, this.blocks.map((b) => b.shape[0]), 1);
          return pieces.map((p, i) => tf.matMul(p as tf.Tensor2D, this.blocks[i])).reduce((a, b) => tf.add(a, b));
        },
      };
    });
  }

  get blockCount(): number {
    return this.blocks.length;
  }

  /** Embedding rows of int32 ids of any shape -> [...ids.shape, d]. */
  lookup(ids: tf.Tensor): tf.Tensor {
    if (this.blocks.length === 1) return tf.gather(this.blocks[0], ids);
    // each block serves the ids in its range; the others read row 0 of it and are zeroed
    return this.blocks
      .map((b, i) => {
        const int = (v: number) => tf.scalar(v, "int32");
        const local = tf.sub(ids, int(this.offsets[i]));
        const inBlock = tf.logicalAnd(tf.greaterEqual(local, int(0)), tf.less(local, int(b.shape[0])));
        const rows = tf.gather(b, tf.where(inBlock, local, tf.zerosLike(local)));
        return tf.mul(rows, tf.expandDims(tf.cast(inBlock, "float32"), -1));
      })
      .reduce((a, b) => tf.add(a, b));
  }

  /** x [N, d] -> logits x·Eᵀ [N, V], differentiable with respect to x. */
  logits(x: tf.Tensor2D): tf.Tensor2D {
    return this.logitsWithGrad(x) as tf.Tensor2D;
  }

  /** Row `id` of E as [1, d]. */
  row(id: number): tf.Tensor2D {
    const i = this.offsets.findLastIndex((o) => o <= id);
    return tf.slice(this.blocks[i], [id - this.offsets[i], 0], [1, this.hidden]);
  }

  dispose(): void {
    tf.dispose([...this.blocks, ...(this.transposed ?? [])]);
  }
}

/** A table laid out for the active backend: blocks within WebGPU's binding limit, Eᵀ on wasm. */
export function vocabTable(table: HostTensor): VocabTable {
  const webgpu = tf.engine().backendName === "webgpu";
  return new VocabTable(table, { maxBlockBytes: webgpu ? bindingLimitBytes() : undefined, pretransposed: prefersPretransposedWeights() });
}
