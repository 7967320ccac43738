// Node-only: the `GPU` object from the npm `webgpu` package (Dawn). On a
// machine without a GPU, Dawn finds no adapter unless the Vulkan loader is
// pointed at SwiftShader; Debian's chromium ships it, so we point there when
// the caller has not chosen a driver. This must run in the main thread of the
// process (a worker thread's env never reaches the native loader).
import { existsSync } from 'node:fs';
import { WebGpuUnavailableError } from './errors.ts';
import { acquireDevice, type AcquireOptions, type GpuDevice } from './device.ts';

const SWIFTSHADER_ICDS = [
  '/usr/lib/chromium/vk_swiftshader_icd.json',
  '/usr/lib/chromium-browser/vk_swiftshader_icd.json',
  '/opt/google/chrome/vk_swiftshader_icd.json',
];

let cachedGpu: Promise<GPU> | null = null;

/** The Node `GPU` object, with WebGPU's globals (GPUBufferUsage, …) installed. */
export function nodeGpu(): Promise<GPU> {
  cachedGpu ??= (async () => {
    if (!process.env.VK_ICD_FILENAMES) {
      const icd = SWIFTSHADER_ICDS.find((path) => existsSync(path));
      if (icd) process.env.VK_ICD_FILENAMES = icd;
    }
    let module: typeof import('webgpu');
    try {
      module = await import('webgpu');
    } catch (e) {
      throw new WebGpuUnavailableError(`the npm package \`webgpu\` could not be loaded (${String(e)})`);
    }
    Object.assign(globalThis, module.globals);
    return module.create([]);
  })();
  return cachedGpu;
}

export async function acquireNodeDevice(options: AcquireOptions = {}): Promise<GpuDevice> {
  const gpu = await nodeGpu();
  try {
    return await acquireDevice(gpu, options);
  } catch (e) {
    if (e instanceof Error && e.name === 'AdapterUnavailableError' && !process.env.VK_ICD_FILENAMES) {
      e.message += ' — no GPU driver was found; on Debian install `chromium` (for SwiftShader) or set VK_ICD_FILENAMES';
    }
    throw e;
  }
}
