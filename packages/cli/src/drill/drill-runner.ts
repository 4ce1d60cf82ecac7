/**
 * Runs the fault drill: starts the cluster, funds and warms up both gateway replicas, runs each
 * fault in order, and reports one result per fault (a table, or one JSON line each with `--json`).
 */
import { rmSync } from "node:fs";
import { formatTable } from "../table.ts";
import { balanceAt, pollUntil } from "./drill-checks.ts";
import { chatThrough } from "./drill-client.ts";
import { DRILL_DEPOSIT, type DrillCluster, startDrillCluster } from "./drill-cluster.ts";
import { DRILL_FAULTS, type DrillState, type FaultResult } from "./drill-faults.ts";

export type DrillReport = { mode: string; results: FaultResult[]; ok: boolean };

/** Deposits credited and one paid answer through each replica (its channels opened). */
async function warmUp(cluster: DrillCluster): Promise<void> {
  // Every replica sees the deposit before any request spends from it (replicas on one database
  // share the balance, so the first warm-up would otherwise hide it from the second).
  for (const gateway of cluster.gateways) {
    const balance = await pollUntil(
      () => balanceAt(gateway),
      (b) => b >= DRILL_DEPOSIT,
    );
    if (balance < DRILL_DEPOSIT) throw new Error(`${gateway.process.name}: the deposit was never credited`);
  }
  for (const gateway of cluster.gateways) {
    const outcome = await chatThrough({ gateway, prompt: "warm up", maxTokens: 8 });
    if (!outcome.complete) throw new Error(`${gateway.process.name}: warm-up request failed (${outcome.error})`);
  }
}

export async function runDrill(
  options: {
    quick?: boolean;
    dir?: string;
    log?: (line: string) => void;
    /** The cluster is up; `mode` is how the gateway replicas keep their state. */
    onCluster?: (mode: string) => void;
    onResult?: (r: FaultResult) => void;
  } = {},
): Promise<DrillReport> {
  const log = options.log ?? (() => {});
  const cluster = await startDrillCluster({ ...(options.dir ? { dir: options.dir } : {}), log });
  let ok = false;
  options.onCluster?.(cluster.gatewayMode);
  const results: FaultResult[] = [];
  try {
    await warmUp(cluster);
    const state: DrillState = {};
    for (const fault of DRILL_FAULTS) {
      if (options.quick && !fault.quick) continue;
      log(`fault: ${fault.name}`);
      const started = performance.now();
      let detail: string;
      const seen: string[] = [];
      try {
        detail = await fault.run(cluster, state, (s) => seen.push(s));
      } catch (error) {
        detail = `threw: ${(error as Error).message ?? error}`;
      }
      const result = {
        fault: fault.name,
        checked: fault.checked,
        ok: detail === "",
        detail: detail === "" ? "passed" : detail,
        seen: seen.join("; "),
        ms: Math.round(performance.now() - started),
      };
      results.push(result);
      options.onResult?.(result);
    }
    ok = results.length > 0 && results.every((r) => r.ok);
  } finally {
    await cluster.stop();
    // A temporary folder is kept only when something failed (the processes' state, to look into).
    if (options.dir === undefined) {
      if (ok) rmSync(cluster.dir, { recursive: true, force: true });
      else log(`state kept in ${cluster.dir}`);
    }
  }
  return { mode: cluster.gatewayMode, results, ok };
}

/** The human table: fault | what was checked | result | time. */
export function formatDrillTable(report: DrillReport): string {
  const passed = report.results.filter((r) => r.ok).length;
  return [
    `Fault drill — gateway replicas: ${report.mode}`,
    "",
    formatTable({
      columns: ["fault", "what was checked", "result", "time"],
      rows: report.results.map((r) => [
        r.fault,
        r.checked,
        r.ok ? `passed (${r.seen})` : `FAILED: ${r.detail}${r.seen ? ` (${r.seen})` : ""}`,
        `${(r.ms / 1000).toFixed(1)} s`,
      ]),
      right: ["time"],
    }),
    "",
    `${passed} of ${report.results.length} faults survived`,
  ].join("\n");
}
