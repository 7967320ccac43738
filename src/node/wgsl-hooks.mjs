// Node module hooks so that `import src from '…/x.wgsl?raw'` works outside Vite
// (CLIs run with tsx: bench, simulator, relay, headless volunteer). Vite and
// Vitest handle `?raw` themselves; this gives Node the same behaviour, so WGSL
// is loaded the same way everywhere.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export async function resolve(specifier, context, next) {
  if (specifier.endsWith('?raw')) {
    const url = new URL(specifier, context.parentURL);
    return { url: url.href, format: 'module', shortCircuit: true };
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (url.endsWith('?raw')) {
    const path = fileURLToPath(url.slice(0, -'?raw'.length));
    const text = await readFile(path, 'utf8');
    return { format: 'module', source: `export default ${JSON.stringify(text)};`, shortCircuit: true };
  }
  return next(url, context);
}
