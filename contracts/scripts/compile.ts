/**
 * Compiles every contract in `contracts/src` with solc-js (the `solc` npm package) and writes typed
 * artifacts (`abi` + `bytecode`, `as const`) to `contracts/generated/`, so viem infers every call.
 *
 *   node contracts/scripts/compile.ts           compile and write
 *   node contracts/scripts/compile.ts --check   compile and fail if the generated files are stale
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const solc = require("solc") as {
  compile(input: string, callbacks: { import: (path: string) => { contents: string } | { error: string } }): string;
  version(): string;
};

const contractsDir = dirname(dirname(fileURLToPath(import.meta.url)));
const srcDir = join(contractsDir, "src");
const outDir = join(contractsDir, "generated");
const reasonsFile = join(contractsDir, "..", "packages", "core", "src", "contract-reasons.ts");

/** Compiler settings shared by every contract; changing them changes bytecode and gas. */
export const compilerSettings = {
  evmVersion: "cancun",
  optimizer: { enabled: true, runs: 1000 },
  viaIR: true,
  metadata: { bytecodeHash: "none" },
} as const;

function listSources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listSources(path));
    else if (entry.name.endsWith(".sol")) out.push(path);
  }
  return out.sort();
}

function findImport(path: string): { contents: string } | { error: string } {
  for (const candidate of [join(contractsDir, "node_modules", path), join(contractsDir, "..", "node_modules", path)]) {
    if (existsSync(candidate)) return { contents: readFileSync(candidate, "utf8") };
  }
  try {
    return { contents: readFileSync(require.resolve(path), "utf8") };
  } catch {
    return { error: `import not found: ${path}` };
  }
}

type SolcOutput = {
  errors?: { severity: string; formattedMessage: string; sourceLocation?: { file?: string } }[];
  contracts?: Record<
    string,
    Record<
      string,
      {
        abi: { type: string; name?: string; inputs?: { type: string }[] }[];
        evm: { bytecode: { object: string } };
        userdoc?: { errors?: Record<string, { notice?: string }[]> };
      }
    >
  >;
};

/** Turns `VoucherSignatureInvalid` into `voucher_signature_invalid` (same rule as packages/core). */
function snake(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2")
    .toLowerCase();
}

/** The contracts' custom errors as reason codes, with the @notice of each error as its message. */
function reasonsSource(output: SolcOutput): string {
  const reasons = new Map<string, string>();
  for (const [source, contracts] of Object.entries(output.contracts ?? {})) {
    if (!source.startsWith("src/")) continue;
    for (const artifact of Object.values(contracts)) {
      for (const item of artifact.abi) {
        if (item.type !== "error" || !item.name) continue;
        const signature = `${item.name}(${(item.inputs ?? []).map((i) => i.type).join(",")})`;
        const notice = artifact.userdoc?.errors?.[signature]?.[0]?.notice?.trim();
        const previous = reasons.get(snake(item.name));
        if (!previous || (notice && previous.startsWith("Contract error"))) {
          reasons.set(snake(item.name), notice ?? `Contract error ${item.name}`);
        }
      }
    }
  }
  const lines = [...reasons.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([code, message]) => `  ${code}: { status: 422, message: ${JSON.stringify(message)} },`);
  return [
    "/**",
    " * Reason codes of the contracts' custom errors, generated from the compiled ABIs by",
    " * `npm run compile` (see contracts/scripts/compile.ts). Do not edit by hand.",
    " */",
    "export const CONTRACT_REASONS = {",
    ...lines,
    "} as const satisfies Record<string, { status: number; message: string }>;",
    "",
  ].join("\n");
}

export function compile(): Map<string, string> {
  const sources: Record<string, { content: string }> = {};
  for (const file of listSources(srcDir)) {
    sources[relative(contractsDir, file)] = { content: readFileSync(file, "utf8") };
  }
  const input = {
    language: "Solidity",
    sources,
    settings: { ...compilerSettings, outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "userdoc"] } } },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport })) as SolcOutput;
  const errors = (output.errors ?? []).filter((e) => e.severity === "error");
  // Warnings about our own sources only (OpenZeppelin's transient-storage notice is expected).
  for (const e of output.errors ?? []) {
    if (e.severity !== "error" && e.sourceLocation?.file?.startsWith("src/")) console.warn(e.formattedMessage);
  }
  if (errors.length > 0) {
    for (const e of errors) console.error(e.formattedMessage);
    throw new Error(`solc: ${errors.length} error(s)`);
  }
  const files = new Map<string, string>();
  const names: string[] = [];
  for (const [source, contracts] of Object.entries(output.contracts ?? {})) {
    if (!source.startsWith("src/")) continue;
    for (const [name, artifact] of Object.entries(contracts)) {
      const bytecode = artifact.evm.bytecode.object;
      if (bytecode.length === 0) continue; // interfaces and abstract contracts
      names.push(name);
      const lower = name[0]?.toLowerCase() + name.slice(1);
      files.set(
        `${name}.ts`,
        [
          `// Generated by contracts/scripts/compile.ts from ${source} with solc ${solc.version()}. Do not edit.`,
          `export const ${lower}Abi = ${JSON.stringify(artifact.abi, null, 2)} as const;`,
          "",
          `export const ${lower}Bytecode = "0x${bytecode}" as const;`,
          "",
        ].join("\n"),
      );
    }
  }
  names.sort();
  files.set(
    "index.ts",
    [
      "// Generated by contracts/scripts/compile.ts. Do not edit.",
      ...names.map((n) => `export * from "./${n}.ts";`),
      "",
    ].join("\n"),
  );
  files.set(reasonsFile, reasonsSource(output));
  return files;
}

function main(): void {
  const check = process.argv.includes("--check");
  const started = performance.now();
  const files = compile();
  if (check) {
    const stale: string[] = [];
    for (const [name, content] of files) {
      const path = name === reasonsFile ? name : join(outDir, name);
      if (!existsSync(path) || readFileSync(path, "utf8") !== content) stale.push(name);
    }
    const existing = existsSync(outDir) ? readdirSync(outDir) : [];
    for (const name of existing) if (!files.has(name)) stale.push(name);
    if (stale.length > 0) {
      console.error(`contracts/generated is stale (${stale.join(", ")}): run \`npm run compile\` and commit.`);
      process.exit(1);
    }
    console.log(`contracts/generated is up to date (${files.size - 2} contracts)`);
    return;
  }
  mkdirSync(outDir, { recursive: true });
  for (const [name, content] of files) {
    const path = name === reasonsFile ? name : join(outDir, name);
    if (!existsSync(path) || readFileSync(path, "utf8") !== content) writeFileSync(path, content);
  }
  for (const name of readdirSync(outDir)) if (!files.has(name)) rmSync(join(outDir, name));
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`compiled ${files.size - 2} contracts with solc ${solc.version()} in ${seconds}s → contracts/generated`);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
