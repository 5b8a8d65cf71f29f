// The model runtime reads tensors back asynchronously only (a GPU backend has no synchronous
// read-back in Node): no dataSync / arraySync / bufferSync may appear in src/ outside the
// training loop (src/train), which runs on wasm only.
import fs from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";

const SRC = path.resolve(import.meta.dirname, "..", "src");
const ALLOWED = path.join(SRC, "train") + path.sep;
const SYNC_READ = /\b(dataSync|arraySync|bufferSync)\s*\(/;

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === "generated" ? [] : sourceFiles(p);
    return /\.(ts|js|mjs|cjs)$/.test(e.name) ? [p] : [];
  });
}

it("no synchronous tensor read-back in src/ outside src/train", () => {
  const files = sourceFiles(SRC);
  expect(files.length).toBeGreaterThan(50); // the scan really sees the source tree
  const offending = files
    .filter((f) => !f.startsWith(ALLOWED))
    .flatMap((f) =>
      fs
        .readFileSync(f, "utf8")
        .split("\n")
        .flatMap((line, i) => (SYNC_READ.test(line) ? [`${path.relative(SRC, f)}:${i + 1}: ${line.trim()}`] : [])),
    );
  expect(offending).toEqual([]);
});

it("the scan recognizes a synchronous read-back", () => {
  expect(SYNC_READ.test("const d = t.dataSync() as Float32Array;")).toBe(true);
  expect(SYNC_READ.test("const d = await t.data();")).toBe(false);
});
