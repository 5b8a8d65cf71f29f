import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // Model tests are CPU-heavy and the database tests share one server: run files one at a time
    // on the 2-core CI machine rather than thrashing.
    fileParallelism: false,
    globalSetup: ["test/global-setup.ts"],
  },
});
