// BERT as a masked LM (BertForMaskedLM / BertLMHeadModel weights), post-LayerNorm encoder:
//   h1  = LN(h + Attn(h))
//   act = GELU(h1·W_in + b_in)          <- the knowledge-neuron activation (after GELU)
//   out = LN(h1 + act·W_out + b_out)
// and the MLM head LN(GELU(h·W_t + b_t))·Eᵀ + b at the [MASK] position.
import * as tf from "./tf.ts";
import type { Checkpoint, Weights } from "./checkpoint.ts";
import type { Activation, BertConfig } from "./config.ts";
import { Dense, type DenseGradMode } from "./dense.ts";
import { ModelError } from "./errors.ts";
import type { FfnReadout, ForwardOptions, ForwardResult, LayerScales, Network, PromptCache } from "./network.ts";
import { type VocabTable, vocabTable } from "./vocab-table.ts";
import {
  LayerNorm, activate, atPosition, attend, mergeHeads, replaceAtPosition, scaleAtPosition,
  splitHeads, splitHeadsTransposed, toTensor1d, toTensor2d, tokenAndPositionEmbeddings,
} from "./nn.ts";

function linear(w: Weights, prefix: string, outF: number, inF: number, gradMode?: DenseGradMode): Dense {
  const weight = toTensor2d(w.get(`${prefix}.weight`, [outF, inF]));
  return Dense.fromLinear(weight, toTensor1d(w.get(`${prefix}.bias`, [outF])), gradMode);
}

function layerNorm(w: Weights, prefix: string, d: number, eps: number): LayerNorm {
  return new LayerNorm(toTensor1d(w.get(`${prefix}.weight`, [d])), toTensor1d(w.get(`${prefix}.bias`, [d])), eps);
}

/** One encoder layer (encoder.layer.<l>.*). */
export class BertLayer {
  private readonly query: Dense;
  private readonly key: Dense;
  private readonly value: Dense;
  private readonly attnOut: Dense;
  private readonly attnNorm: LayerNorm;
  private readonly ffnIn: Dense;
  /** FFN output projection: its rows are the value vectors. */
  readonly ffnOut: Dense;
  private readonly ffnNorm: LayerNorm;
  private readonly nHeads: number;
  private readonly activation: Activation;

  constructor(
    w: Weights,
    prefix: string,
    shape: { hidden: number; ffnWidth: number; nHeads: number; layerNormEps: number; activation: Activation },
    gradMode?: DenseGradMode,
  ) {
    const { hidden: d, ffnWidth: f, layerNormEps: eps } = shape;
    this.nHeads = shape.nHeads;
    this.activation = shape.activation;
    this.query = linear(w, `${prefix}.attention.self.query`, d, d, gradMode);
    this.key = linear(w, `${prefix}.attention.self.key`, d, d, gradMode);
    this.value = linear(w, `${prefix}.attention.self.value`, d, d, gradMode);
    this.attnOut = linear(w, `${prefix}.attention.output.dense`, d, d, gradMode);
    this.attnNorm = layerNorm(w, `${prefix}.attention.output.LayerNorm`, d, eps);
    this.ffnIn = linear(w, `${prefix}.intermediate.dense`, f, d, gradMode);
    this.ffnOut = linear(w, `${prefix}.output.dense`, d, f, gradMode);
    this.ffnNorm = layerNorm(w, `${prefix}.output.LayerNorm`, d, eps);
  }

  /** h1 = LN(q + SelfAttention(q, h)) for queries q [B, Tq, hidden] over the sequence h [B, T, hidden]. */
  attention(q: tf.Tensor, h: tf.Tensor3D): tf.Tensor {
    const H = this.nHeads;
    const dh = h.shape[2] / H;
    const kT = splitHeadsTransposed(this.key.apply(h), H);
    const v = splitHeads(this.value.apply(h), H);
    const ctx = mergeHeads(attend(splitHeads(this.query.apply(q), H), kT, v, 1 / Math.sqrt(dh)));
    return this.attnNorm.apply(tf.add(this.attnOut.apply(ctx), q));
  }

  ffnActivation(h1: tf.Tensor): tf.Tensor {
    return activate(this.ffnIn.apply(h1), this.activation);
  }

  ffnOutput(act: tf.Tensor, h1: tf.Tensor): tf.Tensor {
    return this.ffnNorm.apply(tf.add(this.ffnOut.apply(act), h1));
  }

  /** The output LayerNorm with the σ of the real sum h1 + FFN(act) fixed, as a function of z [R, hidden]. */
  fixedOutputNorm(h1: tf.Tensor2D, act: tf.Tensor2D): (z: tf.Tensor2D) => tf.Tensor2D {
    const inverseScale = this.ffnNorm.inverseScale(tf.add(this.ffnOut.apply(act), h1));
    return (z) => this.ffnNorm.applyFixed(z, inverseScale) as tf.Tensor2D;
  }

  /**
   * The one BERT layer. `h` [B, T, hidden]; `rows: "position"` carries only row `position` on
   * (outputs [B, 1, ·]; keys and values still span the sequence): the top layer, where nothing
   * reads the other positions. `scale` multiplies the activation at the position.
   */
  block(h: tf.Tensor3D, position: number, o: { rows?: "all" | "position"; scale?: tf.Tensor2D } = {}) {
    const [b, , d] = h.shape;
    const all = o.rows !== "position";
    const h1 = this.attention(all ? h : tf.slice(h, [0, position, 0], [b, 1, d]), h);
    let act = this.ffnActivation(h1);
    if (o.scale) act = scaleAtPosition(act, all ? position : 0, o.scale);
    return { h1, act, out: this.ffnOutput(act, h1) as tf.Tensor3D };
  }

  dispose(): void {
    for (const m of [this.query, this.key, this.value, this.attnOut, this.attnNorm, this.ffnIn, this.ffnOut, this.ffnNorm]) m.dispose();
  }
}

interface BertCache extends PromptCache {
  /** Per layer, the FFN input h1 at the position [1, hidden]. */
  readonly ffnInputs: tf.Tensor2D[];
  /** Per layer below the top one, the layer's output for the whole prompt [1, T, hidden]. */
  readonly outputs: tf.Tensor3D[];
}

export class Bert implements Network<BertCache> {
  readonly architecture = "masked" as const;
  readonly nLayers: number;
  readonly hidden: number;
  readonly ffnWidth: number;
  readonly vocabSize: number;
  /** The word embeddings, and the decoder's matrix (the same table when tied). */
  private readonly wordEmbeddings: VocabTable;
  private readonly decoder: VocabTable;
  private readonly decoderBias: tf.Tensor1D;
  private readonly positionEmbeddings: tf.Tensor2D;
  private readonly tokenType0: tf.Tensor2D; // row 0 of token_type_embeddings: single-segment input
  private readonly embedNorm: LayerNorm;
  private readonly layers: BertLayer[];
  private readonly headTransform: Dense;
  private readonly headNorm: LayerNorm;

  constructor(private readonly config: BertConfig, w: Weights) {
    const { hidden: d, vocabSize: v, layerNormEps: eps } = config;
    this.nLayers = config.nLayers;
    this.hidden = d;
    this.ffnWidth = config.ffnWidth;
    this.vocabSize = v;

    this.wordEmbeddings = vocabTable(w.get("embeddings.word_embeddings.weight", [v, d]));
    this.decoder = config.tieWordEmbeddings ? this.wordEmbeddings : vocabTable(w.get("cls.predictions.decoder.weight", [v, d]));
    const decoderBias = w.has("cls.predictions.bias") ? "cls.predictions.bias" : "cls.predictions.decoder.bias";
    this.decoderBias = toTensor1d(w.get(decoderBias, [v]));
    this.positionEmbeddings = toTensor2d(w.get("embeddings.position_embeddings.weight", [config.maxPositions, d]));
    const types = w.get("embeddings.token_type_embeddings.weight", [config.typeVocabSize, d]);
    this.tokenType0 = tf.tensor2d(types.data.subarray(0, d), [1, d]);
    this.embedNorm = layerNorm(w, "embeddings.LayerNorm", d, eps);
    this.layers = Array.from({ length: config.nLayers }, (_, l) => new BertLayer(w, `encoder.layer.${l}`, config));
    this.headTransform = linear(w, "cls.predictions.transform.dense", d, d);
    this.headNorm = layerNorm(w, "cls.predictions.transform.LayerNorm", d, eps);
  }

  static load(checkpoint: Checkpoint & { config: BertConfig }): Bert {
    return new Bert(checkpoint.config, checkpoint.weights);
  }

  private embed(ids: ReadonlyArray<readonly number[]>): tf.Tensor3D {
    return this.embedNorm.apply(tf.add(tokenAndPositionEmbeddings(this.wordEmbeddings, this.positionEmbeddings, ids), this.tokenType0)) as tf.Tensor3D;
  }

  private head(h: tf.Tensor2D): tf.Tensor2D {
    const t = this.headNorm.apply(activate(this.headTransform.apply(h), this.config.activation));
    return tf.add(this.decoder.logits(t as tf.Tensor2D), this.decoderBias);
  }

  /** Layer `l`; the last layer run (`last`) carries only the position on. `at` reads a result at the position. */
  private block(l: number, h: tf.Tensor3D, position: number, last: number, scale?: tf.Tensor2D) {
    const onlyPosition = l === last;
    const r = this.layers[l].block(h, position, { rows: onlyPosition ? "position" : "all", scale });
    return { ...r, at: (t: tf.Tensor) => atPosition(t, onlyPosition ? 0 : position) };
  }

  forward(ids: ReadonlyArray<readonly number[]>, position: number, options: ForwardOptions = {}): ForwardResult {
    const last = options.lastLayer ?? this.nLayers - 1;
    let h: tf.Tensor3D = tf.tidy(() => this.embed(ids));
    const activations: tf.Tensor2D[] = [];
    for (let l = 0; l <= last; l++) {
      // one tidy per layer keeps only the residual stream alive between layers; the last layer
      // run is only read at the position
      const [out, act] = tf.tidy(() => {
        const r = this.block(l, h, position, last, options.scales?.[l]);
        return [r.out, r.at(r.act)];
      }) as [tf.Tensor3D, tf.Tensor2D];
      h.dispose();
      h = out;
      activations.push(act);
    }
    const logits = last === this.nLayers - 1 && options.logits !== false ? tf.tidy(() => this.head(atPosition(h, 0))) : null;
    h.dispose();
    return { activations, logits };
  }

  prepare(ids: readonly number[], position: number): BertCache {
    const ffnInputs: tf.Tensor2D[] = [];
    const outputs: tf.Tensor3D[] = [];
    const [activations, logits] = tf.tidy(() => {
      let h = this.embed([ids]);
      const acts: tf.Tensor2D[] = [];
      for (let l = 0; l < this.nLayers; l++) {
        const r = this.block(l, h, position, this.nLayers - 1);
        ffnInputs.push(tf.keep(r.at(r.h1)));
        acts.push(r.at(r.act));
        h = r.out;
        if (l < this.nLayers - 1) outputs.push(tf.keep(h));
      }
      return [tf.concat(acts, 0), tf.reshape(this.head(atPosition(h, 0)), [this.vocabSize])];
    }) as [tf.Tensor2D, tf.Tensor1D];
    return {
      length: ids.length,
      position,
      activations,
      logits,
      ffnInputs,
      outputs,
      dispose: () => tf.dispose([activations, logits, ...ffnInputs, ...outputs]),
    };
  }

  logitsFromActivation(cache: BertCache, layer: number, activation: tf.Tensor2D, scales?: LayerScales, outputShift?: tf.Tensor2D): tf.Tensor2D {
    const { position } = cache;
    // resume the hooked layer after its activation: only its output at the position changes (a
    // shift adds to the FFN output, before the LayerNorm)
    const residual = outputShift ? tf.add(cache.ffnInputs[layer], outputShift) : cache.ffnInputs[layer];
    const out = this.layers[layer].ffnOutput(activation, residual) as tf.Tensor2D;
    if (layer === this.nLayers - 1) return this.head(out);
    // attention spreads the change to every position in the layers above
    let h = replaceAtPosition(cache.outputs[layer], position, out);
    for (let l = layer + 1; l < this.nLayers; l++) {
      // a tidy per layer bounds memory in forward-only use; under tf.grad the tape keeps what it needs
      const input = h;
      h = tf.tidy(() => this.block(l, input, position, this.nLayers - 1, scales?.[l]).out);
    }
    return this.head(atPosition(h, 0));
  }

  /**
   * Post-LN adaptation of §13.1 (a logit-lens variant, not the paper's method): h = h1 (the FFN
   * input, i.e. the residual before the FFN output is added), m = GELU output; z goes through this
   * layer's output LayerNorm with the real σ fixed, then straight into the MLM head.
   */
  ffnReadout(cache: BertCache, layer: number): FfnReadout {
    const coefficients = tf.slice(cache.activations, [layer, 0], [1, this.ffnWidth]) as tf.Tensor2D;
    const norm = this.layers[layer].fixedOutputNorm(cache.ffnInputs[layer], coefficients);
    return { residual: cache.ffnInputs[layer], coefficients, readout: (z) => this.head(norm(z)) };
  }

  logitsFromPatches(cache: BertCache, patches: ReadonlyArray<{ layer: number; activation: tf.Tensor2D }>): tf.Tensor2D {
    const { position } = cache;
    const top = this.nLayers - 1;
    // the rows that joined below: whole sequences, [B, 1, hidden] once through the top layer
    let h: tf.Tensor3D | null = null;
    for (let l = patches[0].layer, k = 0; l <= top; l++) {
      if (h) {
        const input: tf.Tensor3D = h;
        h = tf.tidy(() => this.block(l, input, position, top).out);
      }
      const joining: tf.Tensor2D[] = [];
      for (; k < patches.length && patches[k].layer === l; k++) joining.push(patches[k].activation);
      if (k < patches.length && patches[k].layer < l) throw new ModelError("bad-input", "patches must be sorted by layer");
      if (!joining.length) continue;
      // rows patched here: only the FFN output at the position changes in this layer
      const out = this.layers[l].ffnOutput(joining.length === 1 ? joining[0] : tf.concat(joining, 0), cache.ffnInputs[l]) as tf.Tensor2D;
      const joined = l === top ? (tf.reshape(out, [out.shape[0], 1, this.hidden]) as tf.Tensor3D) : replaceAtPosition(cache.outputs[l], position, out);
      h = h ? tf.concat([h, joined], 0) : joined;
    }
    return this.head(atPosition(h!, 0));
  }

  valueProjection(layer: number): Dense {
    return this.layers[layer].ffnOut;
  }

  outputEmbedding(vectors: tf.Tensor2D): tf.Tensor2D {
    return this.decoder.logits(vectors);
  }

  wordEmbedding(tokenId: number): tf.Tensor2D {
    return this.wordEmbeddings.row(tokenId);
  }

  dispose(): void {
    // dispose is idempotent in tfjs, so a shared (tied) table is safe to release twice
    for (const m of [...this.layers, this.embedNorm, this.headTransform, this.headNorm, this.decoder, this.wordEmbeddings]) m.dispose();
    tf.dispose([this.decoderBias, this.positionEmbeddings, this.tokenType0]);
  }
}
