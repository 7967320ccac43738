// Vite builds the volunteer app (index.html → dist/). The relay serves dist/ in
// production; `npm run dev` serves it with hot reload for UI work.
// COOP/COEP make the page cross-origin isolated so onnxruntime-web may use
// multi-threaded wasm; the relay sends the same headers.
// After the build, every compressible file gets .gz and .br siblings and
// dist/download-sizes.json lists the sizes (src/node/precompress.ts).
// Source maps only when asked for: `npm run build -- --sourcemap` (Vite's
// own flag) or TESSERA_SOURCEMAP=1; a relay serves whatever the build wrote.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { precompress } from './src/node/precompress.ts';

const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  plugins: [react(), precompress()],
  server: { host: '127.0.0.1', headers: isolation },
  preview: { host: '127.0.0.1', headers: isolation },
  worker: { format: 'es' },
  build: {
    target: 'es2022',
    sourcemap: process.env.TESSERA_SOURCEMAP === '1',
    chunkSizeWarningLimit: 4096,
    // The precompression step's first run takes tens of seconds by design (brotli 11, then cached): not a warning.
    rolldownOptions: { checks: { pluginTimings: false } },
  },
});
