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
import type { ForwardOptions, ForwardResult, LayerScales, Network, PromptCache } from "./network.ts";
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

  private mlp(block: Gpt2Block, pre: tf.Tensor): tf.Tensor {
    return block.proj.apply(activate(pre, this.config.activation));
  }

  /** One block over full sequences; the activation at `position` is optionally scaled. */
  private block(l: number, x: tf.Tensor3D, position: number, scale: tf.Tensor2D | undefined, mask: tf.Tensor2D) {
    const b = this.blocks[l];
    const [q, k, v] = tf.split(b.qkv.apply(b.ln1.apply(x)), 3, -1);
    const kT = splitHeadsTransposed(k, this.nHeads);
    const vh = splitHeads(v, this.nHeads);
    const att = mergeHeads(attend(splitHeads(q, this.nHeads), kT, vh, b.attnScale, mask));
    const mid = tf.add(x, b.attnProj.apply(att));
    let pre = b.fc.apply(b.ln2.apply(mid));
    if (scale) pre = scaleAtPosition(pre, position, scale);
    return { kT, v: vh, mid, pre, out: tf.add(mid, this.mlp(b, pre)) as tf.Tensor3D };
  }

  /**
   * The block's output at the last position only ([B, hidden]; mid and pre likewise): all the top
   * layer needs. Keys and values still span the sequence.
   */
  private blockAt(l: number, x: tf.Tensor3D, scale: tf.Tensor2D | undefined) {
    const b = this.blocks[l];
    const [B, T, d] = x.shape;
    const [q, k, v] = tf.split(b.qkv.apply(b.ln1.apply(x)), 3, -1);
    const kT = splitHeadsTransposed(k, this.nHeads);
    const vh = splitHeads(v, this.nHeads);
    const qLast = splitHeads(tf.slice(q, [0, T - 1, 0], [B, 1, d]), this.nHeads);
    const att = tf.reshape(mergeHeads(attend(qLast, kT, vh, b.attnScale)), [B, d]);
    const mid = tf.add(atPosition(x, T - 1), b.attnProj.apply(att)) as tf.Tensor2D;
    let pre = b.fc.apply(b.ln2.apply(mid)) as tf.Tensor2D;
    if (scale) pre = tf.mul(pre, scale);
    return { kT, v: vh, mid, pre, out: tf.add(mid, this.mlp(b, pre)) as tf.Tensor2D };
  }

  /**
   * One block for the last position only: x [B, hidden] attends to the cached keys/values of the
   * earlier positions plus its own.
   */
  private step(l: number, x: tf.Tensor2D, cache: Gpt2Cache, scale: tf.Tensor2D | undefined): tf.Tensor2D {
    const b = this.blocks[l];
    const B = x.shape[0];
    const H = this.nHeads;
    const dh = this.hidden / H;
    const [q, k, v] = tf.split(b.qkv.apply(b.ln1.apply(x)), 3, -1).map((t) => tf.reshape(t, [B, H, dh]));
    const qH = tf.transpose(q, [1, 0, 2]); // [H, B, dh]
    const vH = tf.transpose(v, [1, 0, 2]);
    const selfScore = tf.reshape(tf.transpose(tf.sum(tf.mul(q, k), -1), [1, 0]), [H, B, 1]);
    const prev = cache.length - 1;
    let ctx: tf.Tensor; // [H, B, dh]
    if (prev === 0) ctx = vH;
    else {
      const scores = tf.mul(tf.concat([tf.matMul(qH, cache.keysT[l]), selfScore], 2), b.attnScale);
      const p = tf.softmax(scores);
      const pPrev = tf.slice(p, [0, 0, 0], [H, B, prev]);
      const pSelf = tf.slice(p, [0, 0, prev], [H, B, 1]);
      ctx = tf.add(tf.matMul(pPrev, cache.values[l]), tf.mul(pSelf, vH));
    }
    const mid = tf.add(x, b.attnProj.apply(tf.reshape(tf.transpose(ctx, [1, 0, 2]), [B, this.hidden])));
    let pre = b.fc.apply(b.ln2.apply(mid));
    if (scale) pre = tf.mul(pre, scale);
    return tf.add(mid, this.mlp(b, pre)) as tf.Tensor2D;
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
    for (let l = 0; l < last; l++) {
      // one tidy per layer keeps only the residual stream alive between layers
      const [out, pre] = tf.tidy(() => {
        const r = this.block(l, x, position, options.scales?.[l], mask);
        return [r.out, atPosition(r.pre, position)];
      }) as [tf.Tensor3D, tf.Tensor2D];
      x.dispose();
      x = out;
      activations.push(pre);
    }
    // the last layer run is only read at the position
    const [top, pre] = tf.tidy(() => {
      const r = this.blockAt(last, x, options.scales?.[last]);
      return [r.out, r.pre];
    });
    activations.push(pre);
    tf.dispose([x, mask]);
    const logits = last === this.nLayers - 1 && options.logits !== false ? tf.tidy(() => this.head(top)) : null;
    top.dispose();
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
      const keep = (r: { kT: tf.Tensor4D; v: tf.Tensor4D; mid: tf.Tensor2D; pre: tf.Tensor2D }) => {
        keysT.push(tf.keep(tf.reshape(tf.slice(r.kT, [0, 0, 0, 0], [1, H, dh, T - 1]), [H, dh, T - 1])));
        values.push(tf.keep(tf.reshape(tf.slice(r.v, [0, 0, 0, 0], [1, H, T - 1, dh]), [H, T - 1, dh])));
        mids.push(tf.keep(r.mid));
        pres.push(r.pre);
      };
      for (let l = 0; l < this.nLayers - 1; l++) {
        const r = this.block(l, x, position, undefined, mask);
        keep({ ...r, mid: atPosition(r.mid, position), pre: atPosition(r.pre, position) });
        x = r.out;
      }
      const top = this.blockAt(this.nLayers - 1, x, undefined);
      keep(top);
      return [tf.concat(pres, 0), tf.reshape(this.head(top.out), [this.vocabSize])];
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

  logitsFromActivation(cache: Gpt2Cache, layer: number, activation: tf.Tensor2D, scales?: LayerScales): tf.Tensor2D {
    let x = tf.add(cache.mids[layer], this.mlp(this.blocks[layer], activation)) as tf.Tensor2D;
    for (let l = layer + 1; l < this.nLayers; l++) {
      // a tidy per layer bounds memory in forward-only use; under tf.grad the tape keeps what it needs
      const input = x;
      x = tf.tidy(() => this.step(l, input, cache, scales?.[l]));
    }
    return this.head(x);
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
