// Runs after `npm install`. npm itself runs on the machine's Node, which may be older than the
// Node 24 this project ships in node_modules/.bin; npm then skips native optional packages whose
// `engines` need a newer Node (e.g. the Hardhat EDR binding, Vite's rolldown binding). When that
// happened, install once more with the project's Node 24 first on the PATH so those packages are
// resolved for the right runtime. Then it builds the explorer page (apps/explorer/dist, ~1 s) so
// `npm start` serves it; a failed build only warns (the devnet builds it again when it is missing).
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const require = createRequire(join(root, "package.json"));
const probes = ["@nomicfoundation/edr", "rolldown"];

function missing() {
  const result = spawnSync(
    join(root, "node_modules", ".bin", "node"),
    ["-e", probes.map((p) => `require(${JSON.stringify(require.resolve(p))})`).join(";")],
    { stdio: "ignore" },
  );
  return result.status !== 0;
}

if (!process.env.VERITY_POSTINSTALL && missing()) {
  console.log("verity: installing native packages for Node 24 (npm ran on " + process.version + ")");
  const bin = join(root, "node_modules", ".bin");
  const npmCli = process.env.npm_execpath;
  const args = ["install", "--ignore-scripts", "--no-audit", "--no-fund"];
  const result = npmCli
    ? spawnSync(join(bin, "node"), [npmCli, ...args], {
        cwd: root,
        stdio: "inherit",
        env: { ...process.env, VERITY_POSTINSTALL: "1", PATH: `${bin}:${process.env.PATH}` },
      })
    : spawnSync("npm", args, {
        cwd: root,
        stdio: "inherit",
        env: { ...process.env, VERITY_POSTINSTALL: "1", PATH: `${bin}:${process.env.PATH}` },
      });
  if (result.status !== 0 || missing()) {
    console.error("verity: native packages are still missing; run `npm install` again with Node 24");
    process.exit(1);
  }
}

if (!process.env.VERITY_POSTINSTALL) {
  const build = spawnSync(
    join(root, "node_modules", ".bin", "node"),
    [join(root, "apps", "explorer", "src", "build-main.ts")],
    { cwd: root, stdio: "inherit" },
  );
  if (build.status !== 0) {
    console.warn("verity: the explorer page did not build; run `npm run build:explorer` to see why");
  }
}
