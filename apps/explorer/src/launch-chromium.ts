/**
 * Chromium for the explorer's browser tests, from npm: @sparticuz/chromium ships a brotli-packed
 * headless Chromium and the NSS/NSPR/expat libraries it links against, so `npm install` is all a
 * machine needs. The first launch extracts it to the temp directory; later launches reuse it. A
 * system Chromium is tried only when the npm one cannot start.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import sparticuz, { inflate } from "@sparticuz/chromium";
import { type Browser, chromium } from "playwright-core";

const SYSTEM_CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"];

/** Flags this needs on a machine without network access beyond the npm registry and no GPU or sandbox. */
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

export type LaunchedChromium = { browser: Browser; executablePath: string; source: "npm" | "system" };

async function launchAt(options: { executablePath: string; libDir?: string }): Promise<Browser> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  // Under LANG=C this headless build reports the locale "en-US@posix", which Intl rejects.
  env.LANG = "en_US.UTF-8";
  delete env.LC_ALL;
  if (options.libDir) env.LD_LIBRARY_PATH = [options.libDir, env.LD_LIBRARY_PATH].filter(Boolean).join(":");
  return await chromium.launch({
    executablePath: options.executablePath,
    headless: true,
    env,
    // launch() gives every browser a fresh temporary --user-data-dir of its own (and refuses one in args).
    args: FLAGS,
  });
}

/** Extracts (first time only) the npm Chromium and its shared libraries; returns their paths. */
async function npmChromium(): Promise<{ executablePath: string; libDir: string }> {
  const executablePath = await sparticuz.executablePath();
  // The package unpacks these libraries only on Amazon Linux; elsewhere they may be missing too.
  const bin = fileURLToPath(new URL("../bin/", import.meta.resolve("@sparticuz/chromium")));
  const libDir = join(await inflate(join(bin, "al2023.tar.br")), "lib");
  return { executablePath, libDir };
}

/** Starts headless Chromium: the npm one, else a system one, else an error that says what to do. */
export async function launchChromium(): Promise<LaunchedChromium> {
  let npmError: Error;
  try {
    const { executablePath, libDir } = await npmChromium();
    return { browser: await launchAt({ executablePath, libDir }), executablePath, source: "npm" };
  } catch (error) {
    npmError = error as Error;
  }
  const tried: string[] = [`@sparticuz/chromium: ${npmError.message.split("\n")[0]}`];
  for (const executablePath of SYSTEM_CHROMIUM) {
    if (!existsSync(executablePath)) continue;
    try {
      return { browser: await launchAt({ executablePath }), executablePath, source: "system" };
    } catch (error) {
      tried.push(`${executablePath}: ${(error as Error).message.split("\n")[0]}`);
    }
  }
  throw new Error(
    `No Chromium could start for the browser tests (${tried.join("; ")}). Run \`npm install\` from the repo root ` +
      "so node_modules/@sparticuz/chromium is present, and make sure the temp directory is writable with ~250 MB free.",
  );
}
