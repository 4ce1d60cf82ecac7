/**
 * The devnet's state folder: the chain journal (`chain/`), the deployment file, the node stores
 * (`provider-N/`, `gateway/`) and `devnet.json`, which records the one-time setup steps already done
 * (accounts funded, API key created and funded) so a restart neither funds nor deposits twice.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { ConfigError } from "@verity/core";

export type DevnetRecord = {
  version: 1;
  chainId: number;
  /** TestUSD minted to every devnet account. */
  funded: boolean;
  /** The devnet API key, once it is funded. */
  apiKey?: string;
};

function parseRecord(text: string): DevnetRecord | undefined {
  try {
    const json = JSON.parse(text) as Partial<DevnetRecord> | null;
    if (json?.version !== 1 || !Number.isInteger(json.chainId) || typeof json.funded !== "boolean") return undefined;
    if (json.apiKey !== undefined && typeof json.apiKey !== "string") return undefined;
    return {
      version: 1,
      chainId: json.chainId as number,
      funded: json.funded,
      ...(json.apiKey === undefined ? {} : { apiKey: json.apiKey }),
    };
  } catch {
    return undefined;
  }
}

export type DevnetState = {
  dir: string;
  chainDir: string;
  deploymentFile: string;
  /** Whether the folder already held a chain when the devnet started. */
  existing: boolean;
  read(): DevnetRecord;
  update(patch: Partial<DevnetRecord>): void;
  /** Frees the folder for another devnet. */
  release(): void;
};

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function writeAtomically(path: string, text: string): void {
  const temp = `${path}.${process.pid}.tmp`;
  const fd = openSync(temp, "w");
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
}

/**
 * Takes the state folder for this process. `fresh` wipes it first (the default `.verity/devnet`);
 * a folder a running devnet holds is refused, never wiped. A folder with node stores but no chain
 * journal (written before chains were persistent) cannot be resumed and is refused too.
 */
export function openDevnetState(options: { dir: string; chainId: number; fresh: boolean }): DevnetState {
  const { dir } = options;
  const lock = join(dir, "devnet.pid");
  if (existsSync(lock)) {
    const pid = Number(readFileSync(lock, "utf8").trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
      throw new ConfigError(`The state folder ${dir} is in use by a running devnet (pid ${pid})`, {
        code: "invalid_parameter",
        hint: "Stop that devnet first, or pass another --state-dir",
        details: { dir, pid },
      });
    }
  }
  if (options.fresh) rmSync(dir, { recursive: true, force: true });
  const chainDir = join(dir, "chain");
  const recordFile = join(dir, "devnet.json");
  const deploymentFile = join(dir, "deployment.json");
  const existing = existsSync(join(chainDir, "genesis.json"));
  if (!existing && (existsSync(recordFile) || existsSync(deploymentFile))) {
    throw new ConfigError(`The state folder ${dir} holds node stores but no saved chain to resume`, {
      code: "state_dir_chain_mismatch",
      hint: `Pass another --state-dir, or delete ${dir} to start afresh`,
      details: { dir },
    });
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(lock, `${process.pid}\n`);

  function read(): DevnetRecord {
    if (!existsSync(recordFile)) return { version: 1, chainId: options.chainId, funded: false };
    const parsed = parseRecord(readFileSync(recordFile, "utf8"));
    if (parsed?.chainId !== options.chainId) {
      throw new ConfigError(`${recordFile} does not belong to a devnet on chain ${options.chainId}`, {
        code: "state_dir_chain_mismatch",
        hint: `Pass another --state-dir, or delete ${dir} to start afresh`,
        details: { dir },
      });
    }
    return parsed;
  }
  return {
    dir,
    chainDir,
    deploymentFile,
    existing,
    read,
    update(patch) {
      writeAtomically(recordFile, `${JSON.stringify({ ...read(), ...patch }, null, 2)}\n`);
    },
    release() {
      try {
        if (Number(readFileSync(lock, "utf8").trim()) === process.pid) rmSync(lock, { force: true });
      } catch {
        // already gone
      }
    },
  };
}
