/**
 * Runs every benchmark in bench/ (each `*.ts` file except this one and `*.test.ts`) one after the
 * other and passes their JSON lines through: one line per figure,
 * `{"bench","metric","value","unit","baseline","ratio",…}`. `npm run bench -- engine gas` runs a subset.
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const dir = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const files = readdirSync(dir)
  .filter(
    (f) =>
      f.endsWith(".ts") &&
      f !== "run.ts" &&
      !f.endsWith(".test.ts") &&
      !f.startsWith("_") &&
      !/^(deterrence-sim|sim-)/.test(f),
  )
  .filter((f) => wanted.length === 0 || wanted.includes(f.replace(/\.ts$/, "")))
  .sort();

let failed = 0;
for (const file of files) {
  process.stderr.write(`▶ bench/${file}\n`);
  const result = spawnSync(process.execPath, [join(dir, file)], { stdio: ["ignore", "inherit", "inherit"] });
  if (result.status !== 0) {
    failed++;
    process.stderr.write(`✖ bench/${file} exited with ${result.status}\n`);
  }
}
process.exit(failed === 0 ? 0 : 1);
