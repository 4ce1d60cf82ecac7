import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

/**
 * The explorer is a static page: relative asset URLs (`base: "./"`) so the gateway can serve it at
 * `/` and under `/explorer/`. In development (`npm run dev -w @verity/explorer`) the data API is
 * proxied to a running gateway (`VERITY_GATEWAY_URL`, default http://127.0.0.1:8080).
 */
export default defineConfig({
  base: "./",
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    chunkSizeWarningLimit: 400,
    reportCompressedSize: false,
  },
  server: {
    proxy: { "/api": process.env.VERITY_GATEWAY_URL ?? "http://127.0.0.1:8080" },
  },
});
