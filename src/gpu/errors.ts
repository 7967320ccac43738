// Typed GPU failures (web-llm style): one class per failure, each message says
// what the user can do. Everything the runtime throws is a GpuError, so the UI
// and the CLIs can tell "this machine cannot train" from a bug.

export type GpuErrorCode =
  | 'webgpu-unavailable'
  | 'adapter-unavailable'
  | 'adapter-limits'
  | 'shader-compile'
  | 'device-lost'
  | 'out-of-memory'
  | 'validation';

export class GpuError extends Error {
  constructor(
    readonly code: GpuErrorCode,
    message: string,
    /** What the user can do about it, in plain words. */
    readonly advice: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class WebGpuUnavailableError extends GpuError {
  constructor(detail: string) {
    super(
      'webgpu-unavailable',
      `WebGPU is not available: ${detail}`,
      'Use a browser with WebGPU (Chrome or Edge 113+, Safari 26+, Firefox 141+ on Windows) over https or localhost. ' +
        'In Node, install the `webgpu` package; on Linux without a GPU install Debian\'s chromium for its SwiftShader driver.',
    );
  }
}

export class AdapterUnavailableError extends GpuError {
  constructor(detail: string) {
    super(
      'adapter-unavailable',
      `No WebGPU adapter: ${detail}`,
      'The browser has WebGPU but found no usable GPU. Update the graphics driver, enable hardware acceleration, ' +
        'or try another browser. On Linux, Chrome may need --enable-unsafe-webgpu or the Vulkan backend.',
    );
  }
}

export class AdapterLimitsError extends GpuError {
  constructor(
    readonly shortfalls: { limit: string; required: number; available: number }[],
  ) {
    super(
      'adapter-limits',
      'The GPU is too small for training: ' +
        shortfalls.map((s) => `${s.limit} is ${s.available}, need ${s.required}`).join('; '),
      'Choose a smaller model preset, or use a machine with a more capable GPU.',
    );
  }
}

export class ShaderCompileError extends GpuError {
  constructor(
    readonly shader: string,
    readonly messages: { line: number; column: number; text: string }[],
  ) {
    super(
      'shader-compile',
      `WGSL compile error in ${shader}: ` +
        messages.map((m) => `line ${m.line}:${m.column} ${m.text}`).join('; '),
      'This is a bug in Tessera or in the browser\'s WGSL compiler; please report it with the browser version.',
    );
  }
}

export class DeviceLostError extends GpuError {
  constructor(readonly reason: string, detail: string) {
    super(
      'device-lost',
      `The GPU device was lost (${reason}): ${detail}`,
      'The GPU was reset or taken by another program. Training resumes from the last checkpoint; ' +
        'if it keeps happening, choose a smaller preset or close other GPU-heavy tabs.',
    );
  }
}

export class GpuOutOfMemoryError extends GpuError {
  constructor(detail: string) {
    super(
      'out-of-memory',
      `The GPU ran out of memory: ${detail}`,
      'Choose a smaller model preset or batch size, or close other GPU-heavy tabs and programs.',
    );
  }
}

export class GpuValidationError extends GpuError {
  constructor(detail: string) {
    super('validation', `WebGPU validation error: ${detail}`, 'This is a bug in Tessera; please report it.');
  }
}
