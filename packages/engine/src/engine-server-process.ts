/**
 * Starts `openai-engine-server-main.ts` as a separate process (tests, benches): a real
 * OpenAI-compatible inference server on its own port, which can be killed like a real one.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export type EngineServerProcess = {
  url: string;
  port: number;
  child: ChildProcess;
  /** Sends `signal` (default SIGTERM) and waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
};

const MAIN = fileURLToPath(new URL("./openai-engine-server-main.ts", import.meta.url));

export async function startEngineServerProcess(
  options: { model?: string; port?: number; host?: string } = {},
): Promise<EngineServerProcess> {
  const child = spawn(
    process.execPath,
    [
      MAIN,
      "--model",
      options.model ?? "test:verity-tiny",
      "--port",
      String(options.port ?? 0),
      "--host",
      options.host ?? "127.0.0.1",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString("utf8");
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString("utf8");
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (line) resolve((JSON.parse(line) as { url: string }).url);
    });
    child.once("exit", (code) =>
      reject(new Error(`the engine server exited (${code}) before it was ready: ${stderr}`)),
    );
  });
  return {
    url,
    port: Number(new URL(url).port),
    child,
    async kill(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
