// Every kernel in the explicit list compiles on this adapter, names are
// unique, and the pipeline cache returns the same pipeline for the same key.
import { describe, expect, it } from 'vitest';
import { gpuContext } from './gpu-context.ts';
import { ALL_KERNELS, compileAll } from '../../src/kernels/index.ts';
import { GpuValidationError, ShaderCompileError } from '../../src/gpu/errors.ts';

describe('kernel list', () => {
  it('has unique names and every kernel compiles', async () => {
    const ctx = await gpuContext();
    const names = ALL_KERNELS.map((k) => k.name);
    expect(new Set(names).size).toBe(names.length);
    let last = 0;
    await compileAll(ctx, (done, total) => {
      expect(done).toBe(last + 1);
      expect(total).toBe(ALL_KERNELS.length);
      last = done;
    });
    expect(last).toBe(ALL_KERNELS.length);
    expect(await ctx.pipeline(ALL_KERNELS[0])).toBe(await ctx.pipeline(ALL_KERNELS[0]));
  });

  it('reports WGSL compile errors with the line', async () => {
    const ctx = await gpuContext();
    const broken = { name: 'broken', file: 'broken.wgsl', entryPoint: 'main', bindings: [] as const, source: '@compute @workgroup_size(1)\nfn main() {\n  let x: f32 = nope;\n}\n' };
    const error = await ctx.pipeline(broken).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ShaderCompileError);
    expect((error as ShaderCompileError).messages[0].line).toBe(3);
    expect((error as Error).message).toContain('broken.wgsl');
  });
});

describe('pipeline errors', () => {
  it('a missing entry point is a typed validation error naming the kernel', async () => {
    const ctx = await gpuContext();
    const kernel = { name: 'absent', file: 'tiny.wgsl', entryPoint: 'not_there', bindings: [] as const, source: '@compute @workgroup_size(1) fn main() {}' };
    const error = await ctx.pipeline(kernel).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GpuValidationError);
    expect((error as Error).message).toContain('absent');
  });
});
