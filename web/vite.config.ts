/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The dev server forwards API and health calls to a core running locally (SR_CORE_URL overrides).
const core = process.env.SR_CORE_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      '/api': { target: core, changeOrigin: false },
      '/healthz': { target: core },
      '/readyz': { target: core },
    },
  },
  build: {
    outDir: 'dist',
    sourcemap: false,
    // The core's CSP allows 'self' only: keep every asset a file, never a data: URI or inline.
    assetsInlineLimit: 0,
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}'],
    restoreMocks: true,
    setupFiles: ['src/test/setup.ts'],
  },
});
