import { existsSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The explorer package's folder (holds `index.html`, `vite.config.ts`, `src/ui`, `public`). */
const root = dirname(dirname(fileURLToPath(import.meta.url)));

/** Where the built page lives (`apps/explorer/dist`, gitignored). */
export function explorerDistDir(): string {
  return join(root, "dist");
}

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) {
    if (entry.endsWith(".test.ts")) continue;
    newest = Math.max(newest, newestMtime(join(path, entry)));
  }
  return newest;
}

/** True when `dist/index.html` is missing or older than any source of the page. */
export function explorerBuildStale(): boolean {
  const built = join(explorerDistDir(), "index.html");
  if (!existsSync(built)) return true;
  const sources = ["index.html", "vite.config.ts", "package.json", "public", join("src", "ui")];
  const newest = Math.max(...sources.map((s) => newestMtime(join(root, s))));
  return newest > statSync(built).mtimeMs;
}

let building: Promise<string> | undefined;

/**
 * Builds the page with Vite when `dist` is missing or older than its sources (or always with
 * `force`) and resolves with the dist folder. The build goes to a temporary folder that replaces
 * `dist` when complete, so a server never sees half a build. Calls in one process share one build.
 */
export function ensureExplorerBuilt(options: { force?: boolean; log?: (line: string) => void } = {}): Promise<string> {
  if (!options.force && !explorerBuildStale()) return Promise.resolve(explorerDistDir());
  building ??= (async () => {
    const started = performance.now();
    const { build } = await import("vite");
    const dist = explorerDistDir();
    const tmp = `${dist}.tmp-${process.pid}`;
    try {
      await build({
        root,
        configFile: join(root, "vite.config.ts"),
        configLoader: "native",
        logLevel: "warn",
        build: { outDir: tmp, emptyOutDir: true },
      });
      rmSync(dist, { recursive: true, force: true });
      renameSync(tmp, dist);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    options.log?.(`explorer built in ${Math.round(performance.now() - started)} ms → ${dist}`);
    return dist;
  })().finally(() => {
    building = undefined;
  });
  return building;
}
