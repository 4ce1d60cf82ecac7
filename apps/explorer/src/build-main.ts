// `npm run build -w @verity/explorer` (and the root postinstall): builds the page into dist/.
import { ensureExplorerBuilt } from "./build.ts";

const force = !process.argv.includes("--if-stale");
await ensureExplorerBuilt({ force, log: (line) => console.log(`verity: ${line}`) });
