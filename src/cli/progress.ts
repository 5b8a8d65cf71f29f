// Progress display for long jobs: a live bar on a terminal, a line every few seconds otherwise
// (CI logs, pipes), nothing at all with --quiet.
import cliProgress from "cli-progress";

export interface Progress {
  update(done: number, detail?: string): void;
  setTotal(total: number): void;
  stop(): void;
}

export function createProgress(label: string, total: number, options: { quiet?: boolean; unit?: string } = {}): Progress {
  const unit = options.unit ?? "";
  if (options.quiet) return { update() {}, setTotal() {}, stop() {} };
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {percentage}% | {value}/{total}${unit} | {rate}/s | ETA {eta_formatted} | {detail}`,
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    const started = Date.now();
    bar.start(total, 0, { detail: "", rate: "0" });
    return {
      update(done, detail = "") {
        const rate = done / Math.max((Date.now() - started) / 1000, 1e-3);
        bar.update(done, { detail, rate: rate.toFixed(1) });
      },
      setTotal: (t) => bar.setTotal(t),
      stop: () => bar.stop(),
    };
  }
  let last = 0;
  let current = 0;
  let max = total;
  const started = Date.now();
  const line = (detail: string) => {
    const secs = (Date.now() - started) / 1000;
    const rate = current / Math.max(secs, 1e-3);
    const eta = rate > 0 ? Math.round((max - current) / rate) : 0;
    const pct = max ? Math.floor((100 * current) / max) : 100;
    const count = unit === "%" ? "" : ` (${current}/${max}${unit}, ${rate.toFixed(1)}/s)`;
    process.stderr.write(`${label}: ${pct}%${count}, ETA ${eta}s ${detail}\n`);
  };
  return {
    update(done, detail = "") {
      current = done;
      if (Date.now() - last > 5000) {
        last = Date.now();
        line(detail);
      }
    },
    setTotal: (t) => (max = t),
    stop: () => line("done"),
  };
}
