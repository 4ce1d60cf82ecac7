export { ensureExplorerBuilt, explorerBuildStale, explorerDistDir } from "./build.ts";
