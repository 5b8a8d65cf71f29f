// The bounded map behind the answers kept with a relation index and the neuron fact counts.
import { describe, expect, it } from "vitest";
import { LruMap } from "../src/store/lru-map.ts";

describe("LruMap", () => {
  it("keeps at most max entries, dropping the least recently read or written", () => {
    const m = new LruMap<string, number>(2);
    m.set("a", 1);
    m.set("b", 2);
    expect(m.get("a")).toBe(1); // a is now more recent than b
    m.set("c", 3);
    expect([m.get("a"), m.get("b"), m.get("c")]).toEqual([1, undefined, 3]);
    m.set("a", 10); // rewriting refreshes too: c is the least recent now
    m.set("d", 4);
    expect([m.get("a"), m.get("c"), m.get("d")]).toEqual([10, undefined, 4]);
  });
});
