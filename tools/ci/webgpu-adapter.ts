// Exit 0 when Dawn sees a WebGPU adapter (printing it), 1 when it sees none: .ci/run installs
// Mesa's software Vulkan driver in that case, so the webgpu parity tests have an adapter.
import { listAdapters } from "../../src/model/webgpu.ts";

const adapters = await listAdapters();
for (const a of adapters) process.stdout.write(`webgpu adapter ${a.index}: ${a.name} (${a.type}, ${a.api})\n`);
if (!adapters.length) process.stdout.write("webgpu: no adapter\n");
process.exit(adapters.length ? 0 : 1);
