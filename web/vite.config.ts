import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * `vite build` writes dist/, which `npm run dev` serves at / and the compose stack's Nginx serves
 * in production, under the gateway's CSP: no inline script or style, so no module-preload polyfill
 * (Vite would inline it) and CSS in files. `vite` (npm run dev:web) serves the sources on port
 * 5173 with hot reload and forwards /api to the gateway of `npm run dev`.
 */
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: true,
  },
  server: {
    port: 5173,
    strictPort: true,
    proxy: { '/api': { target: process.env.GATEWAY_URL ?? 'http://localhost:3000' } },
  },
});
