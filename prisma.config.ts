import { defineConfig } from "prisma/config";

// The CLI only needs the schema path: migrations are applied by src/store/migrate.ts through the
// WebAssembly schema engine, and the client connects through @prisma/adapter-pg.
export default defineConfig({
  schema: "prisma/schema.prisma",
});
