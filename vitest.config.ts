import { createRequire } from "node:module";
import { defineConfig } from "vitest/config";

const require = createRequire(import.meta.url);

export default defineConfig({
  // graphql as Node loads it (its CommonJS build, the one Apollo Server and graphql-tools use):
  // Vite would otherwise pick the package's ES build for our own imports, and graphql refuses
  // schema objects of one build in the type checks of the other ("Duplicate graphql modules")
  resolve: { alias: [{ find: /^graphql$/, replacement: require.resolve("graphql") }] },
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
