// Serves the built app (dist/) on 127.0.0.1 through Vite's preview server
// (its JS API: a spawned npx would leave a child holding the pipes).
import { preview, type PreviewServer } from 'vite';

export async function serveDist(): Promise<{ url: string; close: () => Promise<void> }> {
  const server: PreviewServer = await preview({ preview: { host: '127.0.0.1', port: 0, strictPort: false }, logLevel: 'error' });
  const url = server.resolvedUrls?.local[0];
  if (!url) throw new Error('vite preview did not report a URL');
  return { url, close: () => server.close() };
}
