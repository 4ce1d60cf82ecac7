import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BaseError, ConfigError, RequestError } from "@verity/core";
import {
  type ContextBackend,
  createContextClient,
  createFolderContextBackend,
  createHttpContextBackend,
  userContextSchema,
} from "@verity/sdk";
import type { Command } from "commander";
import { privateKeyToAccount } from "viem/accounts";
import { keyFileOption, keystoreOption, rawKeyOption } from "../chain-options.ts";
import { parseInteger } from "../parse-flags.ts";
import { readSigningKey } from "../read-key.ts";
import { runCommand } from "../run-command.ts";

type ContextFlags = {
  gateway: string;
  dir?: string;
  stateDir: string;
  key?: string;
  keyFile?: string;
  keystore?: string;
  json?: boolean;
};

function backendOf(flags: ContextFlags): { backend: ContextBackend; where: string } {
  if (flags.dir) return { backend: createFolderContextBackend({ dir: flags.dir }), where: flags.dir };
  const base = flags.gateway.replace(/\/+$/, "").replace(/\/v1$/, "");
  if (!/^https?:\/\/\S+$/.test(base)) {
    throw new ConfigError(`--gateway ${JSON.stringify(flags.gateway)} is not an http(s) URL`, {
      code: "invalid_parameter",
      hint: "For example --gateway http://127.0.0.1:8546, or --dir <folder> to keep the context in files",
    });
  }
  const backend = createHttpContextBackend({ url: base });
  // a gateway that does not answer: one clear error naming the flag
  const reach =
    <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await call(...args);
      } catch (error) {
        if (error instanceof BaseError) throw error;
        throw new RequestError(`The gateway at ${base} did not answer`, {
          code: "upstream_unreachable",
          hint: "Check --gateway and that the gateway runs (`verity gateway start`, or `verity devnet`)",
          cause: error,
        });
      }
    };
  return {
    backend: { put: reach(backend.put), latest: reach(backend.latest), at: reach(backend.at) },
    where: base,
  };
}

async function clientOf(flags: ContextFlags) {
  const privateKey = await readSigningKey(flags);
  const { backend, where } = backendOf(flags);
  mkdirSync(flags.stateDir, { recursive: true });
  const owner = privateKeyToAccount(privateKey).address.toLowerCase();
  return {
    client: createContextClient({ privateKey, backend, stateFile: join(flags.stateDir, `context-${owner}.json`) }),
    where,
  };
}

function common(command: Command): Command {
  return command
    .option("--gateway <url>", "the gateway that stores the context (or VERITY_GATEWAY)", "http://127.0.0.1:8546")
    .option("--dir <folder>", "keep the context in files in this folder instead of a gateway")
    .option("--state-dir <dir>", "where the last version seen is remembered (rollback protection)", ".verity/client")
    .addOption(keyFileOption("user's private key (signs versions; the encryption key is derived from it)"))
    .addOption(keystoreOption("user's key"))
    .addOption(rawKeyOption())
    .option("--json", "print one JSON line");
}

export function registerContext(program: Command): void {
  const context = program
    .command("context")
    .description("Portable user context: encrypted with your key, signed and versioned, kept at any store")
    .addHelpText(
      "after",
      "\nExamples:\n  $ verity context put --file ctx.json --key-file me.key\n" +
        "  $ verity context get --key-file me.key\n" +
        "  $ verity context export --out my-context.json --key-file me.key\n\n" +
        'ctx.json: { "preferences": { "language": "en" }, "facts": [{ "text": "…", "tags": ["…"] }], "summaries": [{ "text": "…" }] }',
    );
  common(
    context
      .command("put")
      .description("Encrypt, sign and store the context in a file as the next version")
      .requiredOption("--file <file>", "the context as JSON { preferences, facts, summaries }")
      .addHelpText(
        "after",
        "\nExamples:\n  $ verity context put --file ctx.json --key-file me.key\n  $ verity context put --file ctx.json --dir ./my-context --key-file me.key --json",
      ),
  ).action(async (flags: ContextFlags & { file: string }) => {
    const json = flags.json === true;
    await runCommand(json, async () => {
      let text: string;
      try {
        text = readFileSync(flags.file, "utf8");
      } catch (error) {
        throw new ConfigError(`Cannot read ${flags.file}: ${(error as Error).message}`, { code: "invalid_parameter" });
      }
      let parsed: ReturnType<typeof userContextSchema.safeParse>;
      try {
        parsed = userContextSchema.safeParse(JSON.parse(text));
      } catch {
        throw new ConfigError(`${flags.file} is not JSON`, { code: "invalid_parameter" });
      }
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new ConfigError(`${flags.file}: ${issue?.path.join(".") || "body"} ${issue?.message ?? ""}`, {
          code: "invalid_parameter",
          hint: "Write { preferences: {…}, facts: [{ text }], summaries: [{ text }] }",
        });
      }
      const { client, where } = await clientOf(flags);
      const stored = await client.put(parsed.data);
      if (json) {
        process.stdout.write(`${JSON.stringify({ event: "context_stored", owner: client.owner, ...stored })}\n`);
        return;
      }
      process.stdout.write(
        `Stored context version ${stored.version} of ${client.owner} at ${where} (${stored.size} encrypted bytes, content ${stored.content})\n`,
      );
    });
  });
  common(
    context
      .command("get")
      .description("Fetch, verify and decrypt the latest context (or one version)")
      // `--at`, not `--version`: the root command's --version (the CLI's own) is read anywhere on the line
      .option("--at <version>", "one version instead of the latest")
      .addHelpText(
        "after",
        "\nExamples:\n  $ verity context get --key-file me.key\n  $ verity context get --at 2 --key-file me.key --json",
      ),
  ).action(async (flags: ContextFlags & { at?: string }) => {
    const json = flags.json === true;
    await runCommand(json, async () => {
      const { client, where } = await clientOf(flags);
      const version = flags.at === undefined ? undefined : parseInteger("--at", flags.at, 1);
      const found = await client.get(version === undefined ? {} : { version });
      if (!found) {
        throw new RequestError(`No context${version ? ` version ${version}` : ""} of ${client.owner} at ${where}`, {
          code: "context_not_found",
          hint: "Store one with `verity context put --file ctx.json`",
        });
      }
      if (json) {
        process.stdout.write(
          `${JSON.stringify({ event: "context", owner: client.owner, ...found.version, context: found.context })}\n`,
        );
        return;
      }
      process.stdout.write(
        `Context version ${found.version.version} of ${client.owner} (verified):\n${JSON.stringify(found.context, null, 2)}\n`,
      );
    });
  });
  common(
    context
      .command("export")
      .description("Write every version (encrypted, signed) and the latest plaintext to a file")
      .requiredOption("--out <file>", "where to write the export (it holds your plaintext: keep it private)")
      .addHelpText("after", "\nExamples:\n  $ verity context export --out my-context.json --key-file me.key"),
  ).action(async (flags: ContextFlags & { out: string }) => {
    const json = flags.json === true;
    await runCommand(json, async () => {
      const { client } = await clientOf(flags);
      const bundle = await client.export();
      writeFileSync(flags.out, `${JSON.stringify(bundle, null, 2)}\n`, { mode: 0o600 });
      if (json) {
        process.stdout.write(
          `${JSON.stringify({ event: "context_exported", owner: client.owner, versions: bundle.versions.length, out: flags.out })}\n`,
        );
        return;
      }
      process.stdout.write(`Exported ${bundle.versions.length} version(s) of ${client.owner} to ${flags.out}\n`);
    });
  });
}
