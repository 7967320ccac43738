// `npm start` (for now): serve the built app on 127.0.0.1 and print its URL.
// The relay takes this job over once it exists: one origin for app and API.
import { preview } from 'vite';

const port = Number(process.env.PORT ?? 8787);
const server = await preview({ preview: { host: '127.0.0.1', port, strictPort: false }, logLevel: 'warn' });
const url = server.resolvedUrls?.local[0] ?? `http://127.0.0.1:${port}/`;
console.log(`Tessera is serving the app at ${url}`);
console.log('Open it in a browser with WebGPU (Chrome/Edge 113+, Safari 26+, Firefox 141+ on Windows). Ctrl+C stops.');
