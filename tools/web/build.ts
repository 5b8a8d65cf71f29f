// npm run web:build — builds the explorer the way the server does (only when stale) and prints the
// initial bundle: the files index.html loads, raw and gzipped (level 9, what a gzip-serving proxy sends).
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { ensureExplorerBuilt } from "../../src/api/explorer.ts";

const build = await ensureExplorerBuilt();
const html = readFileSync(join(build.dir, "index.html"), "utf8");
const files = ["index.html", ...[...html.matchAll(/(?:src|href)="\/(assets\/[^"]+)"/g)].map((m) => m[1])];
const rows = files.map((f) => {
  const bytes = readFileSync(join(build.dir, f));
  return { file: f, raw: statSync(join(build.dir, f)).size, gzip: gzipSync(bytes, { level: 9 }).length };
});
const kb = (n: number) => (n / 1024).toFixed(1);
console.log(`explorer build ${build.dir} (${build.built ? `built in ${build.seconds.toFixed(1)} s` : "up to date"})`);
console.log("| file | raw kB | gzip kB |\n|---|--:|--:|");
for (const r of rows) console.log(`| ${r.file} | ${kb(r.raw)} | ${kb(r.gzip)} |`);
const total = rows.reduce((a, r) => ({ raw: a.raw + r.raw, gzip: a.gzip + r.gzip }), { raw: 0, gzip: 0 });
console.log(`| initial bundle | ${kb(total.raw)} | ${kb(total.gzip)} |`);
