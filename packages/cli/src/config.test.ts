import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { BaseError } from "@verity/core";
import {
  type CommandTree,
  configValuesFor,
  envVarName,
  loadConfigFile,
  type OptionSpec,
  resolveOptionValue,
  validateConfigKeys,
} from "./config.ts";

const rpc: OptionSpec = { name: "rpc", flag: "--rpc", boolean: false, multiple: false };
const stateDir: OptionSpec = { name: "stateDir", flag: "--state-dir", boolean: false, multiple: false };
const json: OptionSpec = { name: "json", flag: "--json", boolean: true, multiple: false };
const models: OptionSpec = {
  name: "model",
  flag: "--model",
  boolean: false,
  multiple: true,
  parse: (v, previous) => [...(previous as string[]), v],
};

function code(error: unknown): string | undefined {
  return error instanceof BaseError ? error.code : undefined;
}

test("environment variable names follow the option's camelCase name", () => {
  assert.equal(envVarName("rpc"), "VERITY_RPC");
  assert.equal(envVarName("stateDir"), "VERITY_STATE_DIR");
  assert.equal(envVarName("maxOutputTokens"), "VERITY_MAX_OUTPUT_TOKENS");
});

test("precedence: command line, then environment, then config file, then default", () => {
  const env = { VERITY_RPC: "http://env:1" };
  const config = { rpc: "http://file:1" };
  const base = { option: rpc, env, config };
  assert.equal(resolveOptionValue({ ...base, source: "cli", current: "http://cli:1" }), undefined);
  assert.deepEqual(resolveOptionValue({ ...base, source: "default", current: "http://default:1" }), {
    value: "http://env:1",
    source: "env",
  });
  assert.deepEqual(resolveOptionValue({ ...base, env: {}, source: "default", current: "http://default:1" }), {
    value: "http://file:1",
    source: "config",
  });
  assert.equal(resolveOptionValue({ ...base, env: {}, config: {}, source: "default", current: "x" }), undefined);
  // An empty variable counts as unset, so `VERITY_KEY= verity …` falls through to the file.
  assert.deepEqual(resolveOptionValue({ ...base, env: { VERITY_RPC: "" }, source: undefined, current: undefined }), {
    value: "http://file:1",
    source: "config",
  });
});

test("config values are coerced to what commander would have parsed", () => {
  const port: OptionSpec = { name: "port", flag: "--port", boolean: false, multiple: false };
  assert.deepEqual(
    resolveOptionValue({ option: port, source: "default", current: "8600", env: {}, config: { port: 8601 } }),
    {
      value: "8601",
      source: "config",
    },
  );
  assert.equal(
    resolveOptionValue({ option: json, source: undefined, current: undefined, env: { VERITY_JSON: "1" }, config: {} })
      ?.value,
    true,
  );
  assert.equal(
    resolveOptionValue({ option: json, source: undefined, current: undefined, env: {}, config: { json: false } })
      ?.value,
    false,
  );
  assert.deepEqual(
    resolveOptionValue({ option: models, source: "default", current: [], env: {}, config: { model: ["a", "b"] } })
      ?.value,
    ["a", "b"],
  );
  assert.deepEqual(
    resolveOptionValue({ option: models, source: "default", current: [], env: { VERITY_MODEL: "c" }, config: {} })
      ?.value,
    ["c"],
  );
  assert.throws(
    () =>
      resolveOptionValue({
        option: json,
        source: undefined,
        current: undefined,
        env: { VERITY_JSON: "maybe" },
        config: {},
      }),
    (e) => code(e) === "invalid_parameter" && /VERITY_JSON/.test((e as Error).message),
  );
  assert.throws(
    () =>
      resolveOptionValue({ option: rpc, source: undefined, current: undefined, env: {}, config: { rpc: ["a", "b"] } }),
    (e) => code(e) === "invalid_parameter",
  );
});

test("command sections override shared values, the innermost winning", () => {
  const config = {
    rpc: "http://shared",
    stateDir: "shared",
    provider: { stateDir: "provider", start: { port: 8601 } },
    gateway: { start: { port: 8546 } },
  };
  assert.deepEqual(configValuesFor(config, ["provider", "start"]), {
    rpc: "http://shared",
    stateDir: "provider",
    port: 8601,
  });
  assert.deepEqual(configValuesFor(config, ["deploy"]), { rpc: "http://shared", stateDir: "shared" });
  assert.deepEqual(configValuesFor(undefined, ["deploy"]), {});
  assert.equal(
    resolveOptionValue({
      option: stateDir,
      source: "default",
      current: "d",
      env: {},
      config: configValuesFor(config, ["gateway", "start"]),
    })?.value,
    "shared",
  );
});

test("config files are validated: JSON, value shapes, known options and command sections", () => {
  const dir = mkdtempSync(join(tmpdir(), "verity-config-"));
  const tree: CommandTree = {
    options: [],
    commands: {
      deploy: { options: ["rpc", "key"], commands: {} },
      provider: { options: [], commands: { start: { options: ["port"], commands: {} } } },
    },
  };
  assert.equal(loadConfigFile({ cwd: dir }), undefined, "no default file: no config");
  assert.throws(
    () => loadConfigFile({ cwd: dir, path: "missing.json" }),
    (e) => code(e) === "invalid_parameter",
  );
  writeFileSync(join(dir, "verity.config.json"), "{ rpc: nope }");
  assert.throws(() => loadConfigFile({ cwd: dir }), /not valid JSON/);
  writeFileSync(join(dir, "verity.config.json"), JSON.stringify({ rpc: null }));
  assert.throws(
    () => loadConfigFile({ cwd: dir }),
    (e) => code(e) === "invalid_parameter",
  );
  writeFileSync(join(dir, "verity.config.json"), JSON.stringify({ rpc: "http://x", provider: { start: { port: 1 } } }));
  const config = loadConfigFile({ cwd: dir });
  assert.deepEqual(config, { rpc: "http://x", provider: { start: { port: 1 } } });
  validateConfigKeys({ config: config ?? {}, tree, file: "f" });
  assert.throws(() => validateConfigKeys({ config: { rcp: "x" }, tree, file: "f" }), /"rcp" is not an option/);
  assert.throws(
    () => validateConfigKeys({ config: { provider: { stop: {} } }, tree, file: "f" }),
    /provider\.stop" is not a command/,
  );
});

test("the CLI applies flags over VERITY_* over the config file (a spawned verity deploy)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "verity-config-cli-"));
  const bin = fileURLToPath(new URL("./bin.ts", import.meta.url));
  const keyFile = join(dir, "deployer.key");
  writeFileSync(keyFile, `0x${"11".repeat(32)}`, { mode: 0o600 });
  writeFileSync(
    join(dir, "verity.config.json"),
    JSON.stringify({ keyFile, rpc: "http://127.0.0.1:9", deploy: { json: true } }),
  );
  writeFileSync(join(dir, "other.json"), JSON.stringify({ keyFile, rpc: "http://127.0.0.1:6", json: true }));
  const run = (args: string[], env: Record<string, string> = {}) =>
    new Promise<{ status: number | null; line: { event: string; code: string; message: string } }>((resolve) => {
      const child = spawn(process.execPath, [bin, "deploy", ...args], {
        cwd: dir,
        env: { ...process.env, VERITY_RPC: "", VERITY_KEY: "", VERITY_CONFIG: "", ...env },
      });
      let out = "";
      child.stdout.on("data", (d) => {
        out += String(d);
      });
      child.once("close", (status) => resolve({ status, line: JSON.parse(out.trim().split("\n").at(-1) ?? "{}") }));
    });
  // The file alone: its key and its RPC URL (and `json` from the deploy section).
  const fromFile = await run([]);
  assert.equal(fromFile.status, 1);
  assert.equal(fromFile.line.code, "rpc_unreachable");
  assert.match(fromFile.line.message, /127\.0\.0\.1:9\b/);
  // The environment beats the file.
  const fromEnv = await run([], { VERITY_RPC: "http://127.0.0.1:8" });
  assert.match(fromEnv.line.message, /127\.0\.0\.1:8\b/);
  // The command line beats both.
  const fromFlag = await run(["--rpc", "http://127.0.0.1:7"], { VERITY_RPC: "http://127.0.0.1:8" });
  assert.match(fromFlag.line.message, /127\.0\.0\.1:7\b/);
  // --config names another file.
  const other = await run(["--config", "other.json"]);
  assert.match(other.line.message, /127\.0\.0\.1:6\b/);
  // A mandatory option given nowhere says every way to give it.
  writeFileSync(join(dir, "bare.json"), JSON.stringify({ json: true }));
  const missing = await run(["--config", "bare.json"]);
  assert.equal(missing.status, 1);
  assert.equal(missing.line.code, "invalid_parameter");
  assert.match(missing.line.message, /--rpc.*VERITY_RPC.*"rpc"/);
  // A typo in the file is refused rather than ignored.
  writeFileSync(join(dir, "typo.json"), JSON.stringify({ rcp: "x", json: true }));
  const typo = await run(["--config", "typo.json", "--json"]);
  assert.equal(typo.status, 1);
  assert.match(typo.line.message, /"rcp" is not an option/);
});
