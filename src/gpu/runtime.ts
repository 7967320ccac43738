// The GPU runtime every kernel goes through (tfjs-backend-webgpu style): one
// small declarative object per kernel (KernelSpec), pipelines cached by
// (shader, entry point, override constants) and compiled asynchronously and in
// parallel (compile), buffers with shape comments at the call site, and
// dispatches that can be prepared once and encoded every step. A context also
// carries the per-device kernel choices (KernelChoices) the kernel
// descriptions read when they pick a variant.
//
// Leaves out: anything model-specific. Kernels address tensors through binding
// views ({buffer, offset, size}); the model layout aligns every tensor to 256
// bytes so a view of the flat parameter buffer is a legal binding offset.
import { GpuOutOfMemoryError, GpuValidationError, ShaderCompileError } from './errors.ts';
import type { GpuDevice } from './device.ts';

/** How a kernel sees one binding. */
export type BindingKind = 'read' | 'write' | 'uniform';

/** A kernel: one WGSL entry point, its bindings in order, its constants. */
export interface KernelSpec {
  /** Unique name, conventionally `<file>_<entry>` or the entry point itself. */
  readonly name: string;
  /** File name under shaders/, for error messages. */
  readonly file: string;
  readonly source: string;
  readonly entryPoint: string;
  /** Binding i of group 0 has kind bindings[i]. */
  readonly bindings: readonly BindingKind[];
  /**
   * Pipeline-overridable constants (workgroup size, tile shape, flags). The
   * description owns these numbers; the WGSL declares them as `override` with
   * no default, so a missing one fails pipeline creation instead of drifting.
   */
  readonly constants?: Readonly<Record<string, number>>;
}

/**
 * Which variant of a kernel family a context compiles, decided once per device
 * (feature detection and the matmul tile search, src/kernels/tab-kernels.ts).
 */
export interface KernelChoices {
  /**
   * Row and block reductions (layernorm, softmax/cross-entropy, grad norm) use
   * subgroup operations. Needs the device's 'subgroups' feature and the
   * adapter's smallest subgroup size.
   */
  readonly subgroups: boolean;
  /** Name of the matmul tile configuration (src/kernels/matmul.ts MATMUL_TILES); null: the default tile. */
  readonly matmulTile: string | null;
}

/** What `compile` did: pipelines requested, how many were new, and the wall time. */
export interface CompileReport {
  kernels: number;
  compiled: number;
  ms: number;
}

/** A view of a buffer as one binding. Offsets must be 256-byte aligned. */
export interface BufferView {
  buffer: GPUBuffer;
  offset?: number;
  size?: number;
}
export type Binding = GPUBuffer | BufferView;

export interface PreparedDispatch {
  readonly kernel: KernelSpec;
  readonly pipeline: GPUComputePipeline;
  readonly bindGroup: GPUBindGroup;
  readonly workgroups: readonly [number, number, number];
  /** The dispatch's own uniform buffer, when it has parameters. */
  readonly uniform: GPUBuffer | null;
}

/** Uniform parameters: u32 and f32 fields in declaration order, 4 bytes each. */
export type UniformField = { u32: number } | { f32: number } | { i32: number };

export function packUniform(fields: readonly UniformField[]): ArrayBuffer {
  // Uniform buffers are sized to a multiple of 16 bytes.
  const bytes = new ArrayBuffer(Math.max(16, Math.ceil((fields.length * 4) / 16) * 16));
  const view = new DataView(bytes);
  fields.forEach((field, i) => {
    if ('u32' in field) view.setUint32(i * 4, field.u32, true);
    else if ('i32' in field) view.setInt32(i * 4, field.i32, true);
    else view.setFloat32(i * 4, field.f32, true);
  });
  return bytes;
}

/** Compiled shader modules, pipelines and layouts of one device, keyed by content. */
class PipelineCache {
  readonly modules = new Map<string, Promise<GPUShaderModule>>();
  readonly pipelines = new Map<string, Promise<GPUComputePipeline>>();
  readonly layouts = new Map<string, GPUBindGroupLayout>();
}

export class GpuContext {
  readonly device: GPUDevice;
  readonly choices: KernelChoices;
  private cache: PipelineCache;

  /** Choices not given default to what the device supports (subgroups when it has them) and the default tile. */
  constructor(readonly gpu: GpuDevice, choices: Partial<KernelChoices> = {}) {
    this.device = gpu.device;
    const subgroups = choices.subgroups ?? gpu.subgroupSize !== null;
    if (subgroups && gpu.subgroupSize === null) {
      throw new GpuValidationError('subgroup kernels were requested, but this device was created without the "subgroups" feature');
    }
    this.choices = { subgroups, matmulTile: choices.matmulTile ?? null };
    this.cache = new PipelineCache();
  }

  /**
   * A context on the same device with some choices changed, sharing this one's
   * compiled pipelines (their keys include every override constant, so a
   * variant never gets another's pipeline).
   */
  withChoices(choices: Partial<KernelChoices>): GpuContext {
    const other = new GpuContext(this.gpu, { ...this.choices, ...choices });
    other.cache = this.cache;
    return other;
  }

  // ── buffers ────────────────────────────────────────────────────────────────

  createBuffer(label: string, byteLength: number, usage = 0): GPUBuffer {
    const size = Math.max(16, Math.ceil(byteLength / 4) * 4);
    return this.device.createBuffer({
      label,
      size,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST | usage,
    });
  }

  /** A storage buffer holding `data` (padded to 4 bytes). */
  upload(label: string, data: ArrayBufferView): GPUBuffer {
    const buffer = this.createBuffer(label, data.byteLength);
    this.write(buffer, data);
    return buffer;
  }

  write(buffer: GPUBuffer, data: ArrayBufferView, byteOffset = 0): void {
    // writeBuffer wants a multiple of 4 bytes.
    const length = Math.floor(data.byteLength / 4) * 4;
    if (length) this.device.queue.writeBuffer(buffer, byteOffset, data.buffer, data.byteOffset, length);
    const rest = data.byteLength - length;
    if (rest) {
      const tail = new Uint8Array(4);
      tail.set(new Uint8Array(data.buffer, data.byteOffset + length, rest));
      this.device.queue.writeBuffer(buffer, byteOffset + length, tail);
    }
  }

  /** Copy `byteLength` bytes of `buffer` back to the CPU. */
  async read(buffer: GPUBuffer, byteLength = buffer.size, byteOffset = 0): Promise<ArrayBuffer> {
    const size = Math.ceil(byteLength / 4) * 4;
    const staging = this.device.createBuffer({
      label: `${buffer.label}:readback`,
      size,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(buffer, byteOffset, staging, 0, size);
    this.device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const copy = staging.getMappedRange().slice(0, byteLength);
    staging.unmap();
    staging.destroy();
    return copy;
  }

  async readFloat32(buffer: GPUBuffer, length = buffer.size / 4, offset = 0): Promise<Float32Array> {
    return new Float32Array(await this.read(buffer, length * 4, offset * 4));
  }

  // ── pipelines ──────────────────────────────────────────────────────────────

  private layoutFor(kinds: readonly BindingKind[]): GPUBindGroupLayout {
    const key = kinds.join(',');
    let layout = this.cache.layouts.get(key);
    if (!layout) {
      layout = this.device.createBindGroupLayout({
        label: `layout(${key})`,
        entries: kinds.map((kind, binding) => ({
          binding,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: kind === 'uniform' ? 'uniform' : kind === 'read' ? 'read-only-storage' : 'storage' },
        })),
      });
      this.cache.layouts.set(key, layout);
    }
    return layout;
  }

  private module(kernel: KernelSpec): Promise<GPUShaderModule> {
    let module = this.cache.modules.get(kernel.file + '\0' + kernel.source);
    if (!module) {
      module = (async () => {
        const shader = this.device.createShaderModule({ label: kernel.file, code: kernel.source });
        const info = await shader.getCompilationInfo();
        const errors = info.messages.filter((m) => m.type === 'error');
        if (errors.length) {
          throw new ShaderCompileError(
            kernel.file,
            errors.map((m) => ({ line: m.lineNum, column: m.linePos, text: m.message })),
          );
        }
        return shader;
      })();
      this.cache.modules.set(kernel.file + '\0' + kernel.source, module);
    }
    return module;
  }

  static pipelineKey(kernel: KernelSpec): string {
    const constants = Object.entries(kernel.constants ?? {})
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    return `${kernel.file}#${kernel.entryPoint}#${kernel.bindings.join('')}#${constants}#${kernel.source.length}`;
  }

  /** The compute pipeline for a kernel, compiled once per key. */
  pipeline(kernel: KernelSpec): Promise<GPUComputePipeline> {
    const key = GpuContext.pipelineKey(kernel);
    let pipeline = this.cache.pipelines.get(key);
    if (!pipeline) {
      pipeline = (async () => {
        const module = await this.module(kernel);
        this.device.pushErrorScope('validation');
        let created: GPUComputePipeline;
        try {
          created = await this.device.createComputePipelineAsync({
            label: kernel.name,
            layout: this.device.createPipelineLayout({ bindGroupLayouts: [this.layoutFor(kernel.bindings)] }),
            compute: { module, entryPoint: kernel.entryPoint, constants: kernel.constants as Record<string, number> },
          });
        } catch (e) {
          await this.device.popErrorScope();
          throw new GpuValidationError(`pipeline ${kernel.name} (${kernel.file}): ${e instanceof Error ? e.message : String(e)}`);
        }
        const error = await this.device.popErrorScope();
        if (error) throw new GpuValidationError(`pipeline ${kernel.name}: ${error.message}`);
        return created;
      })();
      pipeline.catch(() => this.cache.pipelines.delete(key));
      this.cache.pipelines.set(key, pipeline);
    }
    return pipeline;
  }

  get pipelineCount(): number {
    return this.cache.pipelines.size;
  }

  /**
   * Compile every kernel's pipeline at once (createComputePipelineAsync, so
   * the browser compiles them in parallel, off the calling thread); a kernel
   * already compiled or in flight is not compiled again. Reports progress as
   * (done, total) in completion order.
   */
  async compile(kernels: readonly KernelSpec[], onProgress?: (done: number, total: number) => void): Promise<CompileReport> {
    const start = performance.now();
    const before = this.pipelineCount;
    const unique = new Map(kernels.map((kernel) => [GpuContext.pipelineKey(kernel), kernel]));
    let done = 0;
    await Promise.all(
      [...unique.values()].map(async (kernel) => {
        await this.pipeline(kernel);
        onProgress?.(++done, unique.size);
      }),
    );
    return { kernels: unique.size, compiled: this.pipelineCount - before, ms: performance.now() - start };
  }

  // ── dispatch ───────────────────────────────────────────────────────────────

  /**
   * Bind buffers and parameters once; encode the result as often as needed.
   * `uniform`, when given, fills the binding whose kind is 'uniform'.
   */
  async prepare(
    kernel: KernelSpec,
    buffers: readonly Binding[],
    workgroups: readonly [number, number?, number?],
    uniform?: readonly UniformField[],
  ): Promise<PreparedDispatch> {
    const pipeline = await this.pipeline(kernel);
    let uniformBuffer: GPUBuffer | null = null;
    let next = 0;
    const entries: GPUBindGroupEntry[] = kernel.bindings.map((kind, binding) => {
      if (kind === 'uniform') {
        if (!uniform) throw new GpuValidationError(`${kernel.name}: binding ${binding} needs uniform parameters`);
        const bytes = packUniform(uniform);
        uniformBuffer = this.device.createBuffer({
          label: `${kernel.name}:params`,
          size: bytes.byteLength,
          usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
        });
        this.device.queue.writeBuffer(uniformBuffer, 0, bytes);
        return { binding, resource: { buffer: uniformBuffer } };
      }
      const view = buffers[next++];
      if (!view) throw new GpuValidationError(`${kernel.name}: missing buffer for binding ${binding}`);
      return { binding, resource: 'buffer' in view ? { buffer: view.buffer, offset: view.offset ?? 0, size: view.size } : { buffer: view } };
    });
    if (next !== buffers.length) {
      throw new GpuValidationError(`${kernel.name}: ${buffers.length} buffers given, ${next} bound`);
    }
    const [x, y = 1, z = 1] = workgroups;
    const limit = this.gpu.adapter.limits.maxComputeWorkgroupsPerDimension;
    if (x > limit || y > limit || z > limit) {
      throw new GpuValidationError(`${kernel.name}: dispatch ${x}×${y}×${z} exceeds ${limit} workgroups per dimension`);
    }
    const bindGroup = this.device.createBindGroup({
      label: kernel.name,
      layout: this.layoutFor(kernel.bindings),
      entries,
    });
    return { kernel, pipeline, bindGroup, workgroups: [x, y, z], uniform: uniformBuffer };
  }

  /** Rewrite a prepared dispatch's parameters (e.g. the step count of AdamW). */
  setUniform(dispatch: PreparedDispatch, fields: readonly UniformField[]): void {
    if (!dispatch.uniform) throw new GpuValidationError(`${dispatch.kernel.name} has no uniform parameters`);
    this.device.queue.writeBuffer(dispatch.uniform, 0, packUniform(fields));
  }

  /** Encode dispatches into one compute pass (optionally timestamped). */
  encode(encoder: GPUCommandEncoder, dispatches: readonly PreparedDispatch[], timestampWrites?: GPUComputePassTimestampWrites): void {
    const pass = encoder.beginComputePass(timestampWrites ? { timestampWrites } : undefined);
    for (const d of dispatches) {
      pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, d.bindGroup);
      pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
    }
    pass.end();
  }

  /** Encode and submit dispatches; resolves when the GPU has finished them. */
  async run(dispatches: readonly PreparedDispatch[]): Promise<void> {
    this.submit(dispatches);
    await this.device.queue.onSubmittedWorkDone();
    this.throwUncaptured();
  }

  /** Encode and submit without waiting. */
  submit(dispatches: readonly PreparedDispatch[]): void {
    const encoder = this.device.createCommandEncoder();
    this.encode(encoder, dispatches);
    this.device.queue.submit([encoder.finish()]);
  }

  /** Surface a validation or OOM error the device reported asynchronously. */
  throwUncaptured(): void {
    const error = this.gpu.takeUncapturedError();
    if (error) throw error;
  }

  /** Free the uniform buffers a set of prepared dispatches own. */
  release(dispatches: readonly PreparedDispatch[]): void {
    for (const d of dispatches) d.uniform?.destroy();
  }

  /** Run `work` inside an out-of-memory error scope. */
  async guardMemory<T>(what: string, work: () => T): Promise<T> {
    this.device.pushErrorScope('out-of-memory');
    const result = work();
    const error = await this.device.popErrorScope();
    if (error) throw new GpuOutOfMemoryError(`${what}: ${error.message}`);
    return result;
  }
}

/** ceil(a / b) for workgroup counts. */
export const divUp = (a: number, b: number): number => Math.ceil(a / b);

/**
 * Invocations per workgroup of the one-invocation-per-element kernels (fill,
 * scale, encoder, gelu, residual, adamw, error feedback): a multiple of every
 * subgroup size, and the floor of maxComputeInvocationsPerWorkgroup.
 */
export const ELEMENTWISE_WORKGROUP_SIZE = 256;

/**
 * Workgroups covering `invocations` (⌈invocations / workgroupSize⌉ of them,
 * at least one), folded into a rectangle at most `maxX` wide: one dimension
 * holds only 65535 workgroups, fewer than a flat parameter buffer needs. The
 * shaders rebuild the linear index as (wid.y · nwg.x + wid.x) and skip the
 * overhang of the last row.
 */
export function workgroupGrid(invocations: number, workgroupSize: number, maxX = 65535): [number, number] {
  const total = Math.max(1, divUp(invocations, workgroupSize));
  const x = Math.min(total, maxX);
  return [x, divUp(total, x)];
}
