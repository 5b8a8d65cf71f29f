// GPT-2 (GPT2LMHeadModel), pre-LayerNorm decoder:
//   mid = x + Attn(LN1(x))                   (causal)
//   pre = LN2(mid)·W_fc + b_fc               <- the knowledge-neuron activation (BEFORE GELU)
//   out = mid + GELU(pre)·W_proj + b_proj
// and logits = LN_f(x)·Eᵀ at the last position.
// A patch or scale at the last position cannot change earlier positions (causal attention), so a
// patched pass recomputes only the last position and reuses the prompt's cached keys and values.
import * as tf from "./tf.ts";
import type { Checkpoint, Weights } from "./checkpoint.ts";
import type { Gpt2Config } from "./config.ts";
import { Dense } from "./dense.ts";
import { ModelError } from "./errors.ts";
import type { FfnReadout, ForwardOptions, ForwardResult, LayerScales, Network, PromptCache } from "./network.ts";
import { type VocabTable, vocabTable } from "./vocab-table.ts";
import {
  LayerNorm, activate, atPosition, attend, causalMask, mergeHeads, scaleAtPosition, splitHeads,
  splitHeadsTransposed, toTensor1d, toTensor2d, tokenAndPositionEmbeddings,
} from "./nn.ts";

interface Gpt2Block {
  ln1: LayerNorm;
  qkv: Dense; // c_attn: hidden -> 3·hidden
  attnProj: Dense;
  ln2: LayerNorm;
  fc: Dense;
  proj: Dense;
  attnScale: number;
}

interface BlockOptions {
  /** Which positions the block carries on: all of them, or only the last (default all). */
  rows?: "all" | "last";
  /** Attend to a prompt's cached keys and values: x is then the last position only. */
  past?: Gpt2Cache;
  /** Multipliers [B, ffnWidth] for the activation at the last position. */
  scale?: tf.Tensor2D;
  /** The causal mask for a whole-sequence pass (made when absent). */
  mask?: tf.Tensor2D;
}

interface Gpt2Cache extends PromptCache {
  /** Per layer, keys of positions 0..T-2 laid out [H, dh, T-1] (so q·kᵀ is a plain matmul). */
  readonly keysT: tf.Tensor3D[];
  /** Per layer, values of positions 0..T-2, [H, T-1, dh]. */
  readonly values: tf.Tensor3D[];
  /** Per layer, the residual stream after attention at the last position [1, hidden]. */
  readonly mids: tf.Tensor2D[];
}

function conv1d(w: Weights, prefix: string, inF: number, outF: number): Dense {
  return Dense.fromConv1D(toTensor2d(w.get(`${prefix}.weight`, [inF, outF])), toTensor1d(w.get(`${prefix}.bias`, [outF])));
}

function layerNorm(w: Weights, prefix: string, d: number, eps: number): LayerNorm {
  return new LayerNorm(toTensor1d(w.get(`${prefix}.weight`, [d])), toTensor1d(w.get(`${prefix}.bias`, [d])), eps);
}

export class Gpt2 implements Network<Gpt2Cache> {
  readonly architecture = "causal" as const;
  readonly nLayers: number;
  readonly hidden: number;
  readonly ffnWidth: number;
  readonly vocabSize: number;
  /** wte, and the output layer's matrix (the same table when tied). */
  private readonly wordEmbeddings: VocabTable;
  private readonly lmHead: VocabTable;
  private readonly positionEmbeddings: tf.Tensor2D;
  private readonly blocks: Gpt2Block[];
  private readonly finalNorm: LayerNorm;
  private readonly nHeads: number;

  constructor(private readonly config: Gpt2Config, w: Weights) {
    const { hidden: d, ffnWidth: f, vocabSize: v, layerNormEps: eps, nHeads } = config;
    this.nLayers = config.nLayers;
    this.hidden = d;
    this.ffnWidth = f;
    this.vocabSize = v;
    this.nHeads = nHeads;

    this.wordEmbeddings = vocabTable(w.get("wte.weight", [v, d]));
    this.lmHead = config.tieWordEmbeddings ? this.wordEmbeddings : vocabTable(w.get("lm_head.weight", [v, d]));
    this.positionEmbeddings = toTensor2d(w.get("wpe.weight", [config.maxPositions, d]));

    const headDim = d / nHeads;
    this.blocks = [];
    for (let l = 0; l < config.nLayers; l++) {
      const p = `h.${l}`;
      let attnScale = config.scaleAttnWeights ? 1 / Math.sqrt(headDim) : 1;
      if (config.scaleAttnByInverseLayerIdx) attnScale /= l + 1;
      this.blocks.push({
        ln1: layerNorm(w, `${p}.ln_1`, d, eps),
        qkv: conv1d(w, `${p}.attn.c_attn`, d, 3 * d),
        attnProj: conv1d(w, `${p}.attn.c_proj`, d, d),
        ln2: layerNorm(w, `${p}.ln_2`, d, eps),
        fc: conv1d(w, `${p}.mlp.c_fc`, d, f),
        proj: conv1d(w, `${p}.mlp.c_proj`, f, d),
        attnScale,
      });
    }
    this.finalNorm = layerNorm(w, "ln_f", d, eps);
  }

  static load(checkpoint: Checkpoint & { config: Gpt2Config }): Gpt2 {
    return new Gpt2(checkpoint.config, checkpoint.weights);
  }

  private embed(ids: ReadonlyArray<readonly number[]>): tf.Tensor3D {
    return tokenAndPositionEmbeddings(this.wordEmbeddings, this.positionEmbeddings, ids);
  }

  /**
   * The one GPT-2 block. `x` [B, T, hidden] holds the positions this call computes:
   * - the whole sequence (no `past`, rows "all"): causal self-attention, output [B, T, hidden];
   * - the whole sequence, rows "last": keys and values span it, only the last position is
   *   carried on, output [B, 1, hidden] (the top layer: nothing reads the other positions);
   * - with `past`: x is the last position only [B, 1, hidden], attending to the prompt's cached
   *   keys and values of the earlier positions plus its own.
   * `scale` multiplies the activation of the last position; `kT` and `v` are this call's keys and
   * values (what a cache keeps).
   */
  private block(l: number, x: tf.Tensor3D, o: BlockOptions = {}) {
    const b = this.blocks[l];
    const H = this.nHeads;
    const [B, T, d] = x.shape;
    const [q, k, v] = tf.split(b.qkv.apply(b.ln1.apply(x)), 3, -1);
    const kT = splitHeadsTransposed(k, H);
    const vh = splitHeads(v, H);
    let att: tf.Tensor; // [B, rows, hidden]
    let residual: tf.Tensor = x;
    if (o.past) att = this.attendToPast(l, q, k, v, o.past, b.attnScale);
    else if (o.rows === "last") {
      residual = tf.slice(x, [0, T - 1, 0], [B, 1, d]);
      att = mergeHeads(attend(splitHeads(tf.slice(q, [0, T - 1, 0], [B, 1, d]), H), kT, vh, b.attnScale));
    } else att = mergeHeads(attend(splitHeads(q, H), kT, vh, b.attnScale, o.mask ?? causalMask(T)));
    const mid = tf.add(residual, b.attnProj.apply(att)) as tf.Tensor3D;
    let pre = b.fc.apply(b.ln2.apply(mid)) as tf.Tensor3D;
    if (o.scale) pre = scaleAtPosition(pre, pre.shape[1] - 1, o.scale);
    return { kT, v: vh, mid, pre, out: this.ffnOutput(l, mid, pre) };
  }

  /** The block's second half: the residual `mid` plus the FFN's output for activation `pre`. */
  private ffnOutput<T extends tf.Tensor>(l: number, mid: T, pre: tf.Tensor): T {
    const b = this.blocks[l];
    return tf.add(mid, b.proj.apply(activate(pre, this.config.activation))) as T;
  }

  /**
   * Attention of the last position's q, k, v ([B, 1, hidden] each) over the cached keys and values
   * of the earlier positions (batch 1, shared by all B rows) plus its own: the B rows sit where a
   * matmul wants them, so the cache is never copied B times.
   */
  private attendToPast(l: number, q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, past: Gpt2Cache, attnScale: number): tf.Tensor {
    const B = q.shape[0];
    const H = this.nHeads;
    const dh = this.hidden / H;
    const [qB, kB, vB] = [q, k, v].map((t) => tf.reshape(t, [B, H, dh]));
    const qH = tf.transpose(qB, [1, 0, 2]); // [H, B, dh]
    const vH = tf.transpose(vB, [1, 0, 2]);
    const selfScore = tf.reshape(tf.transpose(tf.sum(tf.mul(qB, kB), -1), [1, 0]), [H, B, 1]);
    const prev = past.length - 1;
    let ctx: tf.Tensor; // [H, B, dh]
    if (prev === 0) ctx = vH;
    else {
      const scores = tf.mul(tf.concat([tf.matMul(qH, past.keysT[l]), selfScore], 2), attnScale);
      const p = tf.softmax(scores);
      const pPrev = tf.slice(p, [0, 0, 0], [H, B, prev]);
      const pSelf = tf.slice(p, [0, 0, prev], [H, B, 1]);
      ctx = tf.add(tf.matMul(pPrev, past.values[l]), tf.mul(pSelf, vH));
    }
    return tf.reshape(tf.transpose(ctx, [1, 0, 2]), [B, 1, this.hidden]);
  }

  private head(x: tf.Tensor2D): tf.Tensor2D {
    return this.lmHead.logits(this.finalNorm.apply(x) as tf.Tensor2D);
  }

  private checkLast(length: number, position: number): void {
    if (position !== length - 1) {
      throw new ModelError("bad-input", `GPT-2 reads position ${position} of ${length} tokens: cut the sequence after the position first`);
    }
  }

  forward(ids: ReadonlyArray<readonly number[]>, position: number, options: ForwardOptions = {}): ForwardResult {
    this.checkLast(ids[0].length, position);
    const last = options.lastLayer ?? this.nLayers - 1;
    const mask = causalMask(ids[0].length);
    let x: tf.Tensor3D = tf.tidy(() => this.embed(ids));
    const activations: tf.Tensor2D[] = [];
    for (let l = 0; l <= last; l++) {
      // one tidy per layer keeps only the residual stream alive between layers; the last layer
      // run is only read at the position
      const rows = l === last ? "last" : "all";
      const [out, pre] = tf.tidy(() => {
        const r = this.block(l, x, { rows, mask, scale: options.scales?.[l] });
        return [r.out, atPosition(r.pre, r.pre.shape[1] - 1)];
      }) as [tf.Tensor3D, tf.Tensor2D];
      x.dispose();
      x = out;
      activations.push(pre);
    }
    mask.dispose();
    const logits = last === this.nLayers - 1 && options.logits !== false ? tf.tidy(() => this.head(atPosition(x, 0))) : null;
    x.dispose();
    return { activations, logits };
  }

  prepare(ids: readonly number[], position: number): Gpt2Cache {
    this.checkLast(ids.length, position);
    const T = ids.length;
    const H = this.nHeads;
    const dh = this.hidden / H;
    const keysT: tf.Tensor3D[] = [];
    const values: tf.Tensor3D[] = [];
    const mids: tf.Tensor2D[] = [];
    const [activations, logits] = tf.tidy(() => {
      const mask = causalMask(T);
      let x = this.embed([ids]);
      const pres: tf.Tensor2D[] = [];
      for (let l = 0; l < this.nLayers; l++) {
        const r = this.block(l, x, { rows: l === this.nLayers - 1 ? "last" : "all", mask });
        // the keys and values of positions 0..T-2 and, at the last position, mid and pre
        keysT.push(tf.keep(tf.reshape(tf.slice(r.kT, [0, 0, 0, 0], [1, H, dh, T - 1]), [H, dh, T - 1])));
        values.push(tf.keep(tf.reshape(tf.slice(r.v, [0, 0, 0, 0], [1, H, T - 1, dh]), [H, T - 1, dh])));
        mids.push(tf.keep(atPosition(r.mid, r.mid.shape[1] - 1)));
        pres.push(atPosition(r.pre, r.pre.shape[1] - 1));
        x = r.out;
      }
      return [tf.concat(pres, 0), tf.reshape(this.head(atPosition(x, 0)), [this.vocabSize])];
    }) as [tf.Tensor2D, tf.Tensor1D];
    return {
      length: T,
      position,
      activations,
      logits,
      keysT,
      values,
      mids,
      dispose: () => tf.dispose([activations, logits, ...keysT, ...values, ...mids]),
    };
  }

  logitsFromActivation(cache: Gpt2Cache, layer: number, activation: tf.Tensor2D, scales?: LayerScales, outputShift?: tf.Tensor2D): tf.Tensor2D {
    // resume the hooked block after its activation (a shift adds to the FFN output), then run the blocks above on the last position
    const B = activation.shape[0];
    const mid = outputShift ? tf.add(cache.mids[layer], outputShift) : cache.mids[layer];
    let x = tf.reshape(this.ffnOutput(layer, mid, activation), [B, 1, this.hidden]) as tf.Tensor3D;
    for (let l = layer + 1; l < this.nLayers; l++) {
      // a tidy per layer bounds memory in forward-only use; under tf.grad the tape keeps what it needs
      const input = x;
      x = tf.tidy(() => this.block(l, input, { past: cache, scale: scales?.[l] }).out);
    }
    return this.head(atPosition(x, 0));
  }

  /**
   * h = mid (input plus attention output), m = GELU(pre); the final LayerNorm divides by the σ of
   * the real final state (rebuilt from the top block's cached mid and pre), centring and γ, β kept.
   */
  ffnReadout(cache: Gpt2Cache, layer: number): FfnReadout {
    const top = this.nLayers - 1;
    const finalState = this.ffnOutput(top, cache.mids[top], tf.slice(cache.activations, [top, 0], [1, this.ffnWidth]));
    const inverseScale = this.finalNorm.inverseScale(finalState);
    return {
      residual: cache.mids[layer],
      coefficients: activate(tf.slice(cache.activations, [layer, 0], [1, this.ffnWidth]), this.config.activation) as tf.Tensor2D,
      readout: (z) => this.lmHead.logits(this.finalNorm.applyFixed(z, inverseScale) as tf.Tensor2D),
    };
  }

  logitsFromPatches(cache: Gpt2Cache, patches: ReadonlyArray<{ layer: number; activation: tf.Tensor2D }>): tf.Tensor2D {
    let x: tf.Tensor3D | null = null; // [B, 1, hidden]: the last position of the rows that joined below
    for (let l = patches[0].layer, k = 0; l < this.nLayers; l++) {
      if (x) {
        const input: tf.Tensor3D = x;
        x = tf.tidy(() => this.block(l, input, { past: cache }).out);
      }
      const joining: tf.Tensor2D[] = [];
      for (; k < patches.length && patches[k].layer === l; k++) joining.push(patches[k].activation);
      if (k < patches.length && patches[k].layer < l) throw new ModelError("bad-input", "patches must be sorted by layer");
      if (!joining.length) continue;
      // rows patched here: this block resumed after its activation, from the cached residual stream
      const act = joining.length === 1 ? joining[0] : tf.concat(joining, 0);
      const joined = tf.reshape(this.ffnOutput(l, cache.mids[l], act), [act.shape[0], 1, this.hidden]) as tf.Tensor3D;
      x = x ? tf.concat([x, joined], 0) : joined;
    }
    return this.head(atPosition(x!, 0));
  }

  valueProjection(layer: number): Dense {
    return this.blocks[layer].proj;
  }

  outputEmbedding(vectors: tf.Tensor2D): tf.Tensor2D {
    return this.lmHead.logits(vectors);
  }

  wordEmbedding(tokenId: number): tf.Tensor2D {
    return this.wordEmbeddings.row(tokenId);
  }

  dispose(): void {
    for (const b of this.blocks) for (const m of [b.ln1, b.qkv, b.attnProj, b.ln2, b.fc, b.proj]) m.dispose();
    this.finalNorm.dispose();
    // dispose is idempotent in tfjs, so a shared (tied) table is safe to release twice
    this.lmHead.dispose();
    this.wordEmbeddings.dispose();
    this.positionEmbeddings.dispose();
  }
}
