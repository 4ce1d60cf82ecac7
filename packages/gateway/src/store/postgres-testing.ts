import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import {
  accessSync,
  chownSync,
  constants,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";

/** A real Postgres server for tests, on 127.0.0.1 with trust auth, its files in a temp folder. */
export type TestPostgres = {
  /** The server's `postgres` database as superuser `verity`. */
  url: string;
  /** Creates an empty database and returns its URL (one per test keeps tests apart). */
  createDatabase(): Promise<string>;
  /** Stops the server and deletes its folder. */
  stop(): Promise<void>;
};

const SUPERUSER = "verity";
const READY_LIMIT_MS = 60_000;

const executable = (path: string) => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

export type PostgresSearch = {
  /** Folders to look in first, as in PATH (default: `process.env.PATH`). */
  path?: string;
  /** Where Debian installs each major version's `bin/` (default `/usr/lib/postgresql`). */
  libRoot?: string;
};

/** The folder holding `initdb` and `postgres`: from PATH first, else the newest /usr/lib/postgresql/N/bin. */
export function findPostgresBin(options: PostgresSearch = {}): string | undefined {
  const candidates: string[] = [];
  for (const dir of (options.path ?? process.env.PATH ?? "").split(delimiter).filter(Boolean)) {
    const initdb = join(dir, "initdb");
    if (executable(initdb)) candidates.push(dirname(realpathSync(initdb)));
  }
  const root = options.libRoot ?? "/usr/lib/postgresql";
  if (existsSync(root))
    for (const version of readdirSync(root).sort((a, b) => Number(b) - Number(a)))
      candidates.push(join(root, version, "bin"));
  return candidates.find((dir) => executable(join(dir, "initdb")) && executable(join(dir, "postgres")));
}

/** initdb and postgres refuse to run as root: as root they run as `postgres` (or `nobody`). */
function runAs(): { user: string; uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const user of ["postgres", "nobody"]) {
    try {
      const uid = Number(execFileSync("id", ["-u", user], { encoding: "utf8" }).trim());
      const gid = Number(execFileSync("id", ["-g", user], { encoding: "utf8" }).trim());
      return { user, uid, gid };
    } catch {
      // no such user
    }
  }
  throw new Error("Running as root, and neither a postgres nor a nobody user exists to run Postgres as");
}

const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** The command line that runs `command` as `user` (runuser, else su), or as ourselves. */
function commandAs(user: string | undefined, command: string, args: string[]): [string, string[]] {
  if (!user) return [command, args];
  try {
    execFileSync("runuser", ["--help"], { stdio: "ignore" });
    return ["runuser", ["-u", user, "--", command, ...args]];
  } catch {
    return ["su", ["-s", "/bin/sh", user, "-c", [command, ...args].map(quote).join(" ")]];
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

async function waitReady(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`postgres exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${log()}`);
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
    try {
      await client.connect();
      await client.query("SELECT 1");
      return;
    } catch {
      if (Date.now() - started > READY_LIMIT_MS) throw new Error(`postgres did not become ready:\n${log()}`);
      await sleep(100);
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

/**
 * Starts a throwaway Postgres: `initdb` into a temp folder, `postgres` on a free port of 127.0.0.1
 * with its socket in that folder. Returns `{ skip }` when no Postgres binaries are installed, so a
 * test can `t.skip(skip)` and say so; any other failure throws.
 */
export async function startTestPostgres(options: PostgresSearch = {}): Promise<TestPostgres | { skip: string }> {
  const bin = findPostgresBin(options);
  if (!bin)
    return {
      skip: "Postgres not installed: no initdb and postgres on PATH or in /usr/lib/postgresql/*/bin (apt-get install postgresql)",
    };
  const as = runAs();
  const dir = mkdtempSync(join(as ? "/tmp" : tmpdir(), "verity-pg-"));
  if (as) chownSync(dir, as.uid, as.gid);
  const data = join(dir, "data");
  try {
    const [initdb, initdbArgs] = commandAs(as?.user, join(bin, "initdb"), [
      ...["-D", data, "-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"],
    ]);
    execFileSync(initdb, initdbArgs, { stdio: "pipe", cwd: dir });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? "";
    throw new Error(`initdb failed: ${stderr || (error as Error).message}`);
  }

  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const [command, args] = commandAs(as?.user, join(bin, "postgres"), [
      ...["-D", data, "-p", String(port), "-k", dir, "-c", "listen_addresses=127.0.0.1"],
      ...["-c", "fsync=off", "-c", "max_connections=200"],
    ]);
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], cwd: dir });
    let output = "";
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-8_000);
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const url = `postgres://${SUPERUSER}@127.0.0.1:${port}/postgres`;
    const kill = (signal: NodeJS.Signals) => {
      try {
        const pid = Number(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0]);
        if (pid > 0) process.kill(pid, signal);
      } catch {
        child.kill(signal);
      }
    };
    const onExit = () => kill("SIGQUIT");
    process.once("exit", onExit);
    try {
      await waitReady(url, child, () => output);
    } catch (error) {
      kill("SIGQUIT");
      await exited;
      process.off("exit", onExit);
      // Another process may have taken the port between our check and postgres binding it.
      if (attempt < 3 && /could not bind|Address already in use/i.test(output)) continue;
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
    let databases = 0;
    let stopped = false;
    return {
      url,
      async createDatabase() {
        const name = `verity_test_${++databases}`;
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          await client.query(`CREATE DATABASE ${name}`);
        } finally {
          await client.end();
        }
        return `postgres://${SUPERUSER}@127.0.0.1:${port}/${name}`;
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        kill("SIGINT");
        await exited;
        process.off("exit", onExit);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
}
