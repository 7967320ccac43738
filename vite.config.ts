// Vite builds the volunteer app (index.html → dist/). The relay serves dist/ in
// production; `npm run dev` serves it with hot reload for UI work.
// COOP/COEP make the page cross-origin isolated so onnxruntime-web may use
// multi-threaded wasm; the relay sends the same headers.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  plugins: [react()],
  server: { host: '127.0.0.1', headers: isolation },
  preview: { host: '127.0.0.1', headers: isolation },
  worker: { format: 'es' },
  build: { target: 'es2022', sourcemap: true, chunkSizeWarningLimit: 4096 },
});
