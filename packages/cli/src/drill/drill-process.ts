/**
 * One `verity …` service process of the drill cluster: spawned with `node bin.ts … --json`, its JSON
 * lines kept (ready, claim, upstream_down, audit, …), killable with any signal and restartable with
 * the same arguments (so from the same state directory and key file).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const VERITY_BIN = fileURLToPath(new URL("../bin.ts", import.meta.url));

export type DrillEvent = Record<string, unknown> & { event?: string };

export type DrillProcess = {
  name: string;
  /** The last ready line. */
  ready: DrillEvent;
  /** Every JSON line printed since the last (re)start. */
  events: DrillEvent[];
  child: ChildProcess;
  running(): boolean;
  /** Sends `signal` (default SIGTERM) and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the same command again (same flags, state directory and key file). */
  restart(): Promise<DrillEvent>;
  /** Resolves with the first event (already printed or to come) that `match` accepts. */
  waitFor(match: (e: DrillEvent) => boolean, timeoutMs?: number): Promise<DrillEvent>;
};

/** The environment of a spawned verity: nothing VERITY_* from the caller's shell. */
function cleanEnv(): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith("VERITY_") || k === "VERITY_CACHE_DIR") out[k] = v;
  return out;
}

/** Runs `verity …args --json` to completion and returns its JSON lines (throws on a non-zero exit). */
export async function runVerityOnce(args: readonly string[]): Promise<DrillEvent[]> {
  const child = spawn(process.execPath, [VERITY_BIN, ...args, "--json"], {
    env: cleanEnv(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    stdout += String(d);
  });
  child.stderr.on("data", (d) => {
    stderr += String(d);
  });
  const status = await new Promise<number | null>((resolve) => child.once("close", resolve));
  if (status !== 0) throw new Error(`verity ${args.join(" ")} exited with ${status}: ${stdout}${stderr}`);
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as DrillEvent);
}

/** Starts `verity …args --json` and resolves once it printed its ready line. */
export async function startDrillProcess(options: { name: string; args: readonly string[] }): Promise<DrillProcess> {
  let child: ChildProcess;
  let exited: Promise<void>;
  let events: DrillEvent[] = [];
  let listeners: ((e: DrillEvent) => void)[] = [];

  const launch = () =>
    new Promise<DrillEvent>((resolve, reject) => {
      events = [];
      listeners = [];
      child = spawn(process.execPath, [VERITY_BIN, ...options.args, "--json"], {
        env: cleanEnv(),
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stderr = "";
      child.stderr?.on("data", (d) => {
        stderr = (stderr + String(d)).slice(-4_000);
      });
      exited = new Promise((done) => child.once("exit", () => done()));
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
        let event: DrillEvent;
        try {
          event = JSON.parse(line) as DrillEvent;
        } catch {
          return;
        }
        events.push(event);
        for (const l of listeners) l(event);
        if (event.event === "ready") resolve(event);
        else if (event.event === "error" && handle.ready === undefined) reject(new Error(`${options.name}: ${line}`));
      });
      void exited.then(() => reject(new Error(`${options.name} exited before it was ready: ${stderr}`)));
    });

  const handle: DrillProcess = {
    name: options.name,
    ready: undefined as unknown as DrillEvent,
    get events() {
      return events;
    },
    get child() {
      return child;
    },
    running: () => child.exitCode === null && child.signalCode === null,
    async kill(signal = "SIGTERM") {
      if (handle.running()) child.kill(signal);
      await exited;
    },
    async restart() {
      await handle.kill("SIGKILL");
      handle.ready = await launch();
      return handle.ready;
    },
    waitFor(match, timeoutMs = 60_000) {
      const seen = events.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${options.name}: no matching event in ${timeoutMs} ms`)),
          timeoutMs,
        );
        listeners.push((e) => {
          if (!match(e)) return;
          clearTimeout(timer);
          resolve(e);
        });
      });
    },
  };
  handle.ready = await launch();
  return handle;
}
