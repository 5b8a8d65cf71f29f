import { join } from "node:path";
import type { Command } from "commander";
import { loadConfig } from "../../config.ts";
import { SIMPLIFIED_CHINESE_RULE } from "../../data/chinese.ts";
import { type ImportSummary, importMlama, importWrongObjects } from "../../store/import-mlama.ts";
import { CliError } from "../errors.ts";
import { list } from "../options.ts";
import { createProgress } from "../progress.ts";
import { withStore } from "../store-session.ts";

interface ImportFlags {
  languages?: string[];
  relations?: string[];
  quiet?: boolean;
  json?: boolean;
}

function printSummary(summary: ImportSummary, flags: ImportFlags): void {
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return;
  }
  for (const p of summary.problems) process.stderr.write(`${p.file}:${p.line}: ${p.reason} (line skipped)\n`);
  const s = summary;
  const lines = [`languages: ${s.languages}, relations: ${s.relations}`];
  if (s.templates.seen) lines.push(`templates: ${s.templates.seen} read, ${s.templates.inserted} new`);
  if (s.facts.seen) {
    lines.push(`fact lines: ${s.facts.seen} read; facts: ${s.facts.inserted} new; labels: ${s.labels.inserted} new, ${s.labels.updated} updated`);
  }
  if (s.wrongObjects.seen) lines.push(`wrong objects: ${s.wrongObjects.seen} facts, ${s.wrongObjects.inserted} candidates written`);
  if (s.simplified.lines) {
    lines.push(`zh lines converted from traditional to simplified characters (${SIMPLIFIED_CHINESE_RULE}): ${s.simplified.converted} of ${s.simplified.lines}`);
  }
  if (s.objectSlotNotFinal.length) {
    lines.push("templates whose object slot [Y] is not final (masked models use them, causal models skip them):");
    for (const n of s.objectSlotNotFinal) {
      const effect = n.noCausalTemplate ? `no causal prompt for its ${n.facts} facts` : `${n.templates - n.nonFinal} other template(s) serve causal models`;
      lines.push(`  ${n.language} ${n.relation}: ${n.nonFinal} of ${n.templates} template(s); ${effect}`);
    }
  }
  lines.push(`malformed lines skipped: ${s.problems.length}`);
  process.stdout.write(`${lines.join("\n")}\n`);
}

export async function runImport(kind: "mlama" | "wrong-objects", dir: string, flags: ImportFlags): Promise<ImportSummary> {
  const config = loadConfig();
  return withStore(config, async (store) => {
    const progress = createProgress(`import ${kind}`, 100, { quiet: flags.quiet || flags.json, unit: "%" });
    const options = {
      languages: flags.languages,
      relations: flags.relations,
      onProgress: (p: { bytesDone: number; bytesTotal: number; file: string }) =>
        progress.update(Math.round((100 * p.bytesDone) / Math.max(p.bytesTotal, 1)), p.file),
    };
    try {
      return kind === "mlama" ? await importMlama(store.pool, dir, options) : await importWrongObjects(store.pool, dir, options);
    } catch (err) {
      const message = (err as Error).message;
      if (/not a directory|not found in/.test(message)) throw new CliError(message);
      throw err;
    } finally {
      progress.stop();
    }
  });
}

export function register(program: Command): void {
  const cmd = program.command("import").description("Import facts into the database");
  for (const kind of ["mlama", "wrong-objects"] as const) {
    cmd
      .command(kind)
      .description(
        kind === "mlama"
          ? "Import an mLAMA 1.1 folder (<dir>/<lang>/templates.jsonl and <relation>.jsonl), idempotently"
          : "Import wrong-object candidates (<dir>/<lang>/<relation>.jsonl with uuid, wrong_objects)",
      )
      .argument("<dir>", kind === "mlama" ? "mLAMA root folder, e.g. seeds/mlama" : "folder, e.g. seeds/wrong-objects")
      .option("--languages <codes>", "only these languages, comma-separated (e.g. en,zh)", list)
      .option("--relations <ids>", "only these relations, comma-separated (e.g. P17,P19)", list)
      .option("--quiet", "no progress output")
      .option("--json", "print the summary as JSON")
      .action(async (dir: string, flags: ImportFlags) => {
        const summary = await runImport(kind, dir, flags);
        printSummary(summary, flags);
      });
  }
}

export const SEED_DIRS = (seedsDir: string) => ({ mlama: join(seedsDir, "mlama"), wrongObjects: join(seedsDir, "wrong-objects") });
