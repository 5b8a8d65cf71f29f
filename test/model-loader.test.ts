// Checkpoint loading: what a broken or unusual folder produces (typed ModelError, clear message),
// safetensors decoding, and the backend selection errors.
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ModelError, loadModel, openCheckpoint, parseBackendName, defaultBackendName, resolveModelDir, useBackend } from "../src/model/index.ts";
import { openSafetensors } from "../src/model/safetensors.ts";
import { copyCheckpoint, tempDir, writeSafetensors, type RawTensor } from "./helpers/model-checkpoint.ts";
import { GOLDEN_DIR } from "./helpers/model-golden.ts";

const BERT = path.join(GOLDEN_DIR, "bert-tied-f32");
const GPT2 = path.join(GOLDEN_DIR, "gpt2-tied-f32");
const haveFixtures = fs.existsSync(path.join(BERT, "config.json")) && fs.existsSync(path.join(GPT2, "config.json"));

let cleanups: Array<() => void> = [];
afterEach(() => {
  cleanups.forEach((c) => c());
  cleanups = [];
});
function scratch(): string {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return t.dir;
}

/** Runs fn and returns the ModelError it throws (fails if it throws something else or nothing). */
async function modelError(fn: () => unknown): Promise<ModelError> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ModelError);
    return err as ModelError;
  }
  throw new Error("expected a ModelError");
}

describe("safetensors", () => {
  it("converts F16 and BF16 to float32 exactly, and rejects other dtypes by name", () => {
    const file = path.join(scratch(), "t.safetensors");
    const f16 = new Uint16Array([0x3c00, 0xc000, 0x0001, 0x7bff, 0x3555]); // 1, -2, 2^-24, 65504, 0.333251953125
    const bf16 = new Uint16Array([0x3f80, 0xc040, 0x4049]); // 1, -3, 3.140625
    const i64 = new BigInt64Array([1n, 2n]);
    const raw = (a: ArrayBufferView, dtype: string, n: number): RawTensor => ({ dtype, shape: [n], data: new Uint8Array(a.buffer) });
    writeSafetensors(file, { h: raw(f16, "F16", 5), b: raw(bf16, "BF16", 3), i: raw(i64, "I64", 2) });
    const st = openSafetensors(file);
    expect(Array.from(st.read("h").data)).toEqual([1, -2, 2 ** -24, 65504, 0.333251953125]);
    expect(Array.from(st.read("b").data)).toEqual([1, -3, 3.140625]);
    expect(st.dtype("i")).toBe("I64");
    expect(() => st.read("i")).toThrow(/dtype I64.*F32, F16 and BF16/);
  });

  it("rejects a file whose header does not fit", () => {
    const file = path.join(scratch(), "bad.safetensors");
    const b = Buffer.alloc(16);
    b.writeBigUInt64LE(1000n);
    fs.writeFileSync(file, b);
    expect(() => openSafetensors(file)).toThrow(/not a valid safetensors file/);
  });
});

describe.skipIf(!haveFixtures)("checkpoint folders", () => {
  it("explains a missing folder and a missing config.json", async () => {
    const missing = await modelError(() => loadModel(path.join(scratch(), "nothing-here")));
    expect(missing.code).toBe("missing-file");
    expect(missing.message).toMatch(/unknown model/);

    const dir = scratch();
    const e = await modelError(() => openCheckpoint(dir));
    expect(e.code).toBe("missing-file");
    expect(e.message).toMatch(/has no config\.json/);
  });

  it("explains how to convert a folder with only pytorch_model.bin", async () => {
    const dir = scratch();
    fs.copyFileSync(path.join(BERT, "config.json"), path.join(dir, "config.json"));
    fs.writeFileSync(path.join(dir, "pytorch_model.bin"), "not really a pickle");
    const e = await modelError(() => loadModel(dir));
    expect(e.code).toBe("pytorch-only");
    expect(e.message).toMatch(/pytorch_model\.bin/);
    expect(e.message).toMatch(/from safetensors\.torch import save_file/);
    expect(e.message).toMatch(/torch\.load\("pytorch_model\.bin"/);
  });

  it("rejects an unsupported weight dtype with the tensor's name", async () => {
    const dir = scratch();
    copyCheckpoint(BERT, dir, (t) => {
      const w = t["bert.encoder.layer.0.output.dense.weight"];
      t["bert.encoder.layer.0.output.dense.weight"] = { dtype: "I32", shape: w.shape, data: w.data };
    });
    const e = await modelError(() => loadModel(dir));
    expect(e.code).toBe("unsupported-dtype");
    expect(e.message).toMatch(/bert\.encoder\.layer\.0\.output\.dense\.weight.*I32/);
  });

  it("names a missing tensor", async () => {
    const dir = scratch();
    copyCheckpoint(GPT2, dir, (t) => {
      delete t["transformer.h.1.mlp.c_fc.weight"];
    });
    const e = await modelError(() => loadModel(dir));
    expect(e.code).toBe("missing-tensor");
    expect(e.message).toMatch(/h\.1\.mlp\.c_fc\.weight/);
  });

  it("asks for the stored output layer when tie_word_embeddings is false", async () => {
    const dir = scratch();
    copyCheckpoint(BERT, dir);
    const config = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
    fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ ...config, tie_word_embeddings: false }));
    const e = await modelError(() => loadModel(dir));
    expect(e.code).toBe("missing-tensor");
    expect(e.message).toMatch(/cls\.predictions\.decoder\.weight/);
  });

  it("rejects shapes that disagree with config.json", async () => {
    const dir = scratch();
    copyCheckpoint(BERT, dir);
    const config = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
    fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ ...config, intermediate_size: 64 }));
    const e = await modelError(() => loadModel(dir));
    expect(e.code).toBe("bad-tensor");
    expect(e.message).toMatch(/intermediate\.dense\.weight has shape \[128,32\], expected \[64,32\]/);
  });

  it("rejects model types and architectures without a usable LM head", async () => {
    for (const [patch, pattern] of [
      [{ model_type: "t5" }, /model_type "t5" is not supported/],
      [{ architectures: ["BertForSequenceClassification"] }, /BertForSequenceClassification has no language-modelling head/],
      [{ hidden_act: "swish" }, /activation "swish" is not supported/],
    ] as const) {
      const dir = scratch();
      copyCheckpoint(BERT, dir);
      const config = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
      fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ ...config, ...patch }));
      const e = await modelError(() => loadModel(dir));
      expect(e.code).toBe("unsupported-model");
      expect(e.message).toMatch(pattern);
    }
  });

  it("refuses a model too large for the wasm backend's 4 GiB, pointing to the other backends", async () => {
    const dir = scratch();
    copyCheckpoint(GPT2, dir);
    const config = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
    // mGPT's sizes: the check runs on config.json before any weight is read
    fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ ...config, n_embd: 2048, n_layer: 24, n_head: 16, vocab_size: 100000 }));
    const e = await modelError(() => loadModel(dir, { backend: "wasm" }));
    expect(e.code).toBe("unsupported-model");
    expect(e.message).toMatch(/GiB on the wasm backend, which has 4 GiB of memory.*--backend tensorflow/);
  });

  it("needs tokenizer.json", async () => {
    const dir = scratch();
    copyCheckpoint(BERT, dir);
    fs.rmSync(path.join(dir, "tokenizer.json"));
    const e = await modelError(() => loadModel(dir));
    expect(e.code).toBe("missing-file");
    expect(e.message).toMatch(/tokenizer\.json/);
  });

  it("resolves a folder path as given", () => {
    expect(resolveModelDir(BERT)).toBe(BERT);
  });
});

describe("backends", () => {
  it("reports a missing tensorflow backend with install instructions", async () => {
    const e = await modelError(() => useBackend("tensorflow"));
    expect(e.code).toBe("backend-unavailable");
    expect(e.message).toMatch(/npm install @tensorflow\/tfjs-node/);
  });

  it("parses backend names and reads KN_BACKEND", () => {
    expect(parseBackendName(" CPU ")).toBe("cpu");
    expect(parseBackendName("WebGPU")).toBe("webgpu");
    expect(() => parseBackendName("webgl")).toThrow(/unknown backend "webgl" \(choose wasm, cpu, webgpu, tensorflow\)/);
    const saved = process.env.KN_BACKEND;
    try {
      process.env.KN_BACKEND = "cpu";
      expect(defaultBackendName()).toBe("cpu");
      delete process.env.KN_BACKEND;
      expect(defaultBackendName()).toBe("wasm");
    } finally {
      if (saved === undefined) delete process.env.KN_BACKEND;
      else process.env.KN_BACKEND = saved;
    }
  });
});
