import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The page calls /api/... on its own origin; Vite forwards it to Stagecast (STAGECAST_URL,
// default the `make run` address). Stagecast sends SSE unbuffered, and the proxy passes it on.
const target = process.env.STAGECAST_URL ?? "http://127.0.0.1:8000";
// The browser's Host goes through unchanged, as a reverse proxy (nginx) passes it: Stagecast
// refuses run-starting requests whose Origin is not the Host they were sent to.
const proxy = { "/api": { target, changeOrigin: false } };

export default defineConfig({
  plugins: [react()],
  server: { proxy },
  preview: { proxy },
});
