import { existsSync, readFileSync, statSync } from "node:fs";
import { extname, join, resolve, sep } from "node:path";
import { ConfigError } from "@verity/core";
import type { Context, Hono } from "hono";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".webp": "image/webp",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
  ".map": "application/json; charset=utf-8",
};

/** Paths that belong to the gateway's APIs: never answered with the page. */
const API = /^\/(v1|api)(\/|$)|^\/(health|metrics)$/;

/**
 * Serves the explorer's built page (a Vite `dist` folder) at `/` and under `/explorer/`: files with
 * their content type (hashed `assets/` cached for a year, `index.html` revalidated), and the page
 * itself for any other GET (or HEAD) that is not an API path (client-side routes). Must be mounted
 * after the API routes so it never shadows them; API paths fall through to the JSON 404.
 */
export function mountExplorerStatic(app: Hono, options: { distDir: string }): void {
  const root = resolve(options.distDir);
  const indexFile = join(root, "index.html");
  if (!existsSync(indexFile)) {
    throw new ConfigError(`The explorer is not built: ${indexFile} is missing`, {
      code: "invalid_parameter",
      hint: "Run `npm run build -w @verity/explorer` (npm install builds it), or start without the explorer",
    });
  }
  const file = (path: string): string | undefined => {
    const full = resolve(root, `.${path}`);
    if (full !== root && !full.startsWith(root + sep)) return undefined;
    try {
      return statSync(full).isFile() ? full : undefined;
    } catch {
      return undefined;
    }
  };
  const send = (c: Context, full: string, immutable: boolean) => {
    const type = TYPES[extname(full).toLowerCase()] ?? "application/octet-stream";
    c.header("Content-Type", type);
    c.header("Cache-Control", immutable ? "public, max-age=31536000, immutable" : "no-cache");
    c.header("X-Content-Type-Options", "nosniff");
    return c.body(readFileSync(full));
  };
  const handler = (c: Context, next: () => Promise<void>) => {
    let path = decodeURIComponent(c.req.path);
    if (path === "/explorer") return c.redirect("/explorer/", 301);
    if (path.startsWith("/explorer/")) path = path.slice("/explorer".length);
    if (API.test(path)) return next();
    const found = path === "/" ? indexFile : file(path);
    if (found) return send(c, found, path.startsWith("/assets/"));
    // A missing asset is a 404; any other path is a client-side route and gets the page.
    if (extname(path) !== "" || path.startsWith("/assets/")) return next();
    return send(c, indexFile, false);
  };
  app.get("*", (c, next) => {
    try {
      return handler(c, next);
    } catch {
      return next();
    }
  });
}
