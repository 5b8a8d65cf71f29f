// Integration paths and the attribution formula of each method (ALGORITHMS.md §3.2, §3.3).
//   ig           points (k/(N-1))·x, k = 0..N-1        A = x ⊙ ΣG / N   (EleutherAI / Dai baseline)
//   amig-compat  points b̄ + (k/N)(x - b̄), k = 0..N-1   A = x ⊙ ΣG / N   (the AMIG code, default)
//   amig-ig      same points                          A = (x - b̄) ⊙ ΣG / N   (completeness holds)
// and one method without a path: static (§13.1, Yu & Ananiadou), one forward pass, see attribute.ts.

export const METHODS = ["ig", "amig-compat", "amig-ig", "static"] as const;
export type Method = (typeof METHODS)[number];

export function isMethod(s: string): s is Method {
  return (METHODS as readonly string[]).includes(s);
}

export const usesBlankBaseline = (method: Method) => method === "amig-compat" || method === "amig-ig";

/** The N points of the Riemann sum; `baseline` is ignored for plain IG (zero baseline). */
export function pathPoints(method: Method, x: Float32Array, baseline: Float32Array | null, steps: number): Float32Array[] {
  const points: Float32Array[] = [];
  for (let k = 0; k < steps; k++) {
    const row = new Float32Array(x.length);
    if (method === "ig") {
      const alpha = steps === 1 ? 1 : k / (steps - 1);
      for (let i = 0; i < x.length; i++) row[i] = alpha * x[i];
    } else {
      if (!baseline) throw new Error(`${method} needs a baseline`);
      const alpha = k / steps;
      for (let i = 0; i < x.length; i++) row[i] = baseline[i] + alpha * (x[i] - baseline[i]);
    }
    points.push(row);
  }
  return points;
}

/** Attribution from the summed path gradient. */
export function combine(method: Method, x: Float32Array, baseline: Float32Array | null, gradSum: Float32Array, steps: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const multiplier = method === "amig-ig" ? x[i] - baseline![i] : x[i];
    out[i] = (multiplier * gradSum[i]) / steps;
  }
  return out;
}

/** Mean of per-input activation vectors (the AMIG baseline b̄ = (1/T) Σ_j b_j). */
export function meanVectors(vectors: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(vectors[0].length);
  for (const v of vectors) for (let i = 0; i < v.length; i++) out[i] += v[i];
  for (let i = 0; i < out.length; i++) out[i] /= vectors.length;
  return out;
}
