// CPU time of the processes a benchmark drives, read from /proc (Linux): on a machine shared with
// other work, latencies and rates say little on their own, CPU seconds per request or per row do.
import { readFileSync } from "node:fs";
import os from "node:os";
import type pg from "pg";

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ: 100 on every Linux this runs on). */
const TICKS = 100;

/** User + system CPU seconds a process has used so far (0 once it is gone). */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // fields after "pid (comm) ": state is field 3, utime 14, stime 15
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return 0;
  }
}

/** The server processes of every connection to the pool's database (PostgreSQL on this machine). */
export async function backendPids(pool: pg.Pool): Promise<number[]> {
  const { rows } = await pool.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`);
  return rows.map((r) => r.pid);
}

/**
 * A CPU meter over a changing set of processes: `start` samples, `sample` (call it now and then)
 * notes processes that came up since and the last reading of each, `stop` returns the CPU seconds
 * used since `start` (a process that appeared meanwhile counts from 0; one that exited counts up
 * to its last sample).
 */
export function cpuMeter(pids: () => Promise<number[]> | number[]) {
  let first = new Map<number, number>();
  const last = new Map<number, number>();
  const sample = async () => {
    for (const p of await pids()) {
      const now = processCpuSeconds(p);
      if (now > 0) last.set(p, now);
    }
  };
  return {
    async start() {
      last.clear();
      await sample();
      first = new Map(last);
    },
    sample,
    async stop(): Promise<number> {
      for (const p of last.keys()) last.set(p, Math.max(last.get(p)!, processCpuSeconds(p)));
      await sample();
      let used = 0;
      for (const [p, now] of last) used += now - (first.get(p) ?? 0);
      return used;
    },
  };
}

export const loadAverage = () => os.loadavg()[0].toFixed(1);
