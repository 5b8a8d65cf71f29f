// Compact trainable BERT (masked LM) and GPT-2 (causal LM) with tf.variable weights, named and
// laid out exactly as Hugging Face checkpoints store them, so the trained weights are saved as an
// ordinary model.safetensors:
//   BERT: bert.embeddings.*, bert.encoder.layer.{i}.*, cls.predictions.* (decoder tied to the
//         word embeddings); nn.Linear weights are [out, in] on disk, kept [in, out] here.
//   GPT-2: transformer.wte/wpe, transformer.h.{i}.{ln_1,attn.c_attn,attn.c_proj,ln_2,mlp.c_fc,
//          mlp.c_proj}, transformer.ln_f; Conv1D weights are [in, out] both here and on disk;
//          lm_head tied to wte.
// Dropout is not used: the demo models are trained to memorise facts.
import tf from "../model/tf.ts";
import { geluErf, geluTanh, layerNorm } from "../model/nn.ts";
import { attention, dense, embed, selectRows } from "./ops.ts";
import { Rng } from "./rng.ts";

export interface ArchSpec {
  vocabSize: number;
  hidden: number;
  layers: number;
  heads: number;
  ffn: number;
  maxPositions: number;
  /** BERT: std of the residual output projections at init, relative to 0.02. */
  residualInitScale?: number;
}

interface Param {
  name: string;
  variable: tf.Variable;
  /** Stored transposed on disk (torch nn.Linear [out, in]). */
  transposeOnSave: boolean;
}

export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** A batch of token sequences, right-padded to one length. */
export interface Batch {
  ids: Int32Array; // [B * T]
  batch: number;
  seq: number;
  /** Valid (non-padding) length of each sequence. */
  lengths: number[];
}

const INIT_STD = 0.02;

abstract class TrainableLm {
  readonly params: Param[] = [];
  protected readonly byName = new Map<string, tf.Variable>();

  constructor(
    readonly spec: ArchSpec,
    protected readonly rng: Rng,
  ) {}

  protected normal(name: string, shape: number[], transposeOnSave = false, std = INIT_STD): tf.Variable {
    const size = shape.reduce((a, b) => a * b, 1);
    return this.add(name, tf.tensor(this.rng.truncatedNormal(size, std), shape), transposeOnSave);
  }

  protected constant(name: string, shape: number[], value: number): tf.Variable {
    return this.add(name, tf.fill(shape, value), false);
  }

  private add(name: string, init: tf.Tensor, transposeOnSave: boolean): tf.Variable {
    const variable = tf.variable(init, true, name);
    init.dispose();
    this.params.push({ name, variable, transposeOnSave });
    this.byName.set(name, variable);
    return variable;
  }

  protected p<R extends tf.Rank>(name: string): tf.Tensor<R> {
    const v = this.byName.get(name);
    if (!v) throw new Error(`no parameter ${name}`);
    return v as unknown as tf.Tensor<R>;
  }

  variables(): tf.Variable[] {
    return this.params.map((p) => p.variable);
  }

  parameterCount(): number {
    return this.params.reduce((n, p) => n + p.variable.size, 0);
  }

  /** Weights as stored on disk, in Hugging Face names and layouts. */
  exportTensors(): NamedTensor[] {
    return this.params.map((p) =>
      tf.tidy(() => {
        const t = p.transposeOnSave ? tf.transpose(p.variable) : p.variable;
        return { name: p.name, shape: [...t.shape], data: Float32Array.from(t.dataSync() as Float32Array) };
      }),
    );
  }

  dispose(): void {
    for (const p of this.params) p.variable.dispose();
  }
}

// ---------------------------------------------------------------------------------------------

export class TrainableBert extends TrainableLm {
  static readonly LN_EPS = 1e-12;

  constructor(spec: ArchSpec, rng: Rng) {
    super(spec, rng);
    const { vocabSize: v, hidden: h, layers, ffn, maxPositions } = spec;
    // the residual branches' output projections start small (as GPT-2 does): each post-LN layer
    // then begins close to the identity, which lets a from-scratch BERT learn much faster
    const residStd = INIT_STD * (spec.residualInitScale ?? 1);
    this.normal("bert.embeddings.word_embeddings.weight", [v, h]);
    this.normal("bert.embeddings.position_embeddings.weight", [maxPositions, h]);
    this.normal("bert.embeddings.token_type_embeddings.weight", [2, h]);
    this.constant("bert.embeddings.LayerNorm.weight", [h], 1);
    this.constant("bert.embeddings.LayerNorm.bias", [h], 0);
    for (let i = 0; i < layers; i++) {
      const pre = `bert.encoder.layer.${i}`;
      for (const part of ["query", "key", "value"]) {
        this.normal(`${pre}.attention.self.${part}.weight`, [h, h], true);
        this.constant(`${pre}.attention.self.${part}.bias`, [h], 0);
      }
      this.normal(`${pre}.attention.output.dense.weight`, [h, h], true, residStd);
      this.constant(`${pre}.attention.output.dense.bias`, [h], 0);
      this.constant(`${pre}.attention.output.LayerNorm.weight`, [h], 1);
      this.constant(`${pre}.attention.output.LayerNorm.bias`, [h], 0);
      this.normal(`${pre}.intermediate.dense.weight`, [h, ffn], true);
      this.constant(`${pre}.intermediate.dense.bias`, [ffn], 0);
      this.normal(`${pre}.output.dense.weight`, [ffn, h], true, residStd);
      this.constant(`${pre}.output.dense.bias`, [h], 0);
      this.constant(`${pre}.output.LayerNorm.weight`, [h], 1);
      this.constant(`${pre}.output.LayerNorm.bias`, [h], 0);
    }
    this.normal("cls.predictions.transform.dense.weight", [h, h], true);
    this.constant("cls.predictions.transform.dense.bias", [h], 0);
    this.constant("cls.predictions.transform.LayerNorm.weight", [h], 1);
    this.constant("cls.predictions.transform.LayerNorm.bias", [h], 0);
    this.constant("cls.predictions.bias", [v], 0);
  }

  /** Hidden states [B·T, H] of the encoder. */
  encode(batch: Batch): tf.Tensor2D {
    const { hidden: h, layers, heads } = this.spec;
    const { batch: b, seq: t } = batch;
    const eps = TrainableBert.LN_EPS;
    const word = embed(this.p("bert.embeddings.word_embeddings.weight"), batch.ids);
    const pos = tf.slice(this.p<tf.Rank.R2>("bert.embeddings.position_embeddings.weight"), [0, 0], [t, h]);
    const type = tf.slice(this.p<tf.Rank.R2>("bert.embeddings.token_type_embeddings.weight"), [0, 0], [1, h]);
    let x = tf.reshape(tf.add(tf.add(tf.reshape(word, [b, t, h]), pos), type), [b * t, h]) as tf.Tensor2D;
    x = layerNorm(x, this.p("bert.embeddings.LayerNorm.weight"), this.p("bert.embeddings.LayerNorm.bias"), eps) as tf.Tensor2D;
    // key padding mask [B, 1, 1, T]
    const maskData = new Float32Array(b * t);
    for (let i = 0; i < b; i++) for (let j = batch.lengths[i]; j < t; j++) maskData[i * t + j] = -1e9;
    const mask = tf.tensor4d(maskData, [b, 1, 1, t]);
    for (let i = 0; i < layers; i++) {
      const pre = `bert.encoder.layer.${i}`;
      const lin = (name: string, input: tf.Tensor2D) => dense(input, this.p(`${pre}.${name}.weight`), this.p(`${pre}.${name}.bias`));
      const q = lin("attention.self.query", x);
      const k = lin("attention.self.key", x);
      const v = lin("attention.self.value", x);
      const ctx = attention(q, k, v, b, t, heads, mask);
      const attnOut = lin("attention.output.dense", ctx);
      x = layerNorm(tf.add(attnOut, x), this.p(`${pre}.attention.output.LayerNorm.weight`), this.p(`${pre}.attention.output.LayerNorm.bias`), eps) as tf.Tensor2D;
      const inter = geluErf(lin("intermediate.dense", x)) as tf.Tensor2D;
      const out = lin("output.dense", inter);
      x = layerNorm(tf.add(out, x), this.p(`${pre}.output.LayerNorm.weight`), this.p(`${pre}.output.LayerNorm.bias`), eps) as tf.Tensor2D;
    }
    return x;
  }

  /** MLM logits [M, V] at the given flat positions (row b·T + t), computed only there. */
  logitsAt(batch: Batch, positions: Int32Array): tf.Tensor2D {
    const hiddenStates = this.encode(batch);
    let x = selectRows(hiddenStates, positions);
    x = geluErf(dense(x, this.p("cls.predictions.transform.dense.weight"), this.p("cls.predictions.transform.dense.bias"))) as tf.Tensor2D;
    x = layerNorm(x, this.p("cls.predictions.transform.LayerNorm.weight"), this.p("cls.predictions.transform.LayerNorm.bias"), TrainableBert.LN_EPS) as tf.Tensor2D;
    const decoder = tf.transpose(this.p<tf.Rank.R2>("bert.embeddings.word_embeddings.weight"));
    return dense(x, decoder, this.p("cls.predictions.bias"));
  }
}

// ---------------------------------------------------------------------------------------------

export class TrainableGpt2 extends TrainableLm {
  static readonly LN_EPS = 1e-5;

  constructor(spec: ArchSpec, rng: Rng) {
    super(spec, rng);
    const { vocabSize: v, hidden: h, layers, ffn, maxPositions } = spec;
    // GPT-2 scales the residual output projections by 1/sqrt(2·layers) at init
    const residStd = INIT_STD / Math.sqrt(2 * layers);
    this.normal("transformer.wte.weight", [v, h]);
    this.normal("transformer.wpe.weight", [maxPositions, h], false, 0.01);
    for (let i = 0; i < layers; i++) {
      const pre = `transformer.h.${i}`;
      this.constant(`${pre}.ln_1.weight`, [h], 1);
      this.constant(`${pre}.ln_1.bias`, [h], 0);
      this.normal(`${pre}.attn.c_attn.weight`, [h, 3 * h]);
      this.constant(`${pre}.attn.c_attn.bias`, [3 * h], 0);
      this.normal(`${pre}.attn.c_proj.weight`, [h, h], false, residStd);
      this.constant(`${pre}.attn.c_proj.bias`, [h], 0);
      this.constant(`${pre}.ln_2.weight`, [h], 1);
      this.constant(`${pre}.ln_2.bias`, [h], 0);
      this.normal(`${pre}.mlp.c_fc.weight`, [h, ffn]);
      this.constant(`${pre}.mlp.c_fc.bias`, [ffn], 0);
      this.normal(`${pre}.mlp.c_proj.weight`, [ffn, h], false, residStd);
      this.constant(`${pre}.mlp.c_proj.bias`, [h], 0);
    }
    this.constant("transformer.ln_f.weight", [h], 1);
    this.constant("transformer.ln_f.bias", [h], 0);
  }

  private causalMasks = new Map<number, tf.Tensor>();

  private causalMask(t: number): tf.Tensor {
    let m = this.causalMasks.get(t);
    if (!m) {
      const data = new Float32Array(t * t);
      for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) data[i * t + j] = -1e9;
      m = tf.keep(tf.tensor4d(data, [1, 1, t, t]));
      this.causalMasks.set(t, m);
    }
    return m;
  }

  /** Final hidden states [B·T, H] (after ln_f). */
  encode(batch: Batch): tf.Tensor2D {
    const { hidden: h, layers, heads } = this.spec;
    const { batch: b, seq: t } = batch;
    const eps = TrainableGpt2.LN_EPS;
    const word = embed(this.p("transformer.wte.weight"), batch.ids);
    const pos = tf.slice(this.p<tf.Rank.R2>("transformer.wpe.weight"), [0, 0], [t, h]);
    let x = tf.reshape(tf.add(tf.reshape(word, [b, t, h]), pos), [b * t, h]) as tf.Tensor2D;
    const mask = this.causalMask(t);
    for (let i = 0; i < layers; i++) {
      const pre = `transformer.h.${i}`;
      const lin = (name: string, input: tf.Tensor2D) => dense(input, this.p(`${pre}.${name}.weight`), this.p(`${pre}.${name}.bias`));
      const a = layerNorm(x, this.p(`${pre}.ln_1.weight`), this.p(`${pre}.ln_1.bias`), eps) as tf.Tensor2D;
      const qkv = lin("attn.c_attn", a);
      const q = tf.slice(qkv, [0, 0], [b * t, h]);
      const k = tf.slice(qkv, [0, h], [b * t, h]);
      const v = tf.slice(qkv, [0, 2 * h], [b * t, h]);
      const ctx = attention(q, k, v, b, t, heads, mask);
      x = tf.add(x, lin("attn.c_proj", ctx));
      const m = layerNorm(x, this.p(`${pre}.ln_2.weight`), this.p(`${pre}.ln_2.bias`), eps) as tf.Tensor2D;
      x = tf.add(x, lin("mlp.c_proj", geluTanh(lin("mlp.c_fc", m)) as tf.Tensor2D));
    }
    return layerNorm(x, this.p("transformer.ln_f.weight"), this.p("transformer.ln_f.bias"), eps) as tf.Tensor2D;
  }

  /** Next-token logits [M, V] at the given flat positions. */
  logitsAt(batch: Batch, positions: Int32Array): tf.Tensor2D {
    const x = selectRows(this.encode(batch), positions);
    return dense(x, tf.transpose(this.p<tf.Rank.R2>("transformer.wte.weight")), null);
  }

  override dispose(): void {
    for (const m of this.causalMasks.values()) m.dispose();
    super.dispose();
  }
}

export type TrainableModel = TrainableBert | TrainableGpt2;
