// Vite build of the explorer. The server runs it (src/api/explorer.ts) with --outDir; JSX is
// Preact's automatic runtime.
import { defineConfig } from "vite";

export default defineConfig({
  root: import.meta.dirname,
  base: "/",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: { target: "es2022", sourcemap: false, chunkSizeWarningLimit: 1500 },
  server: { proxy: { "/graphql": "http://localhost:4000" } },
});
