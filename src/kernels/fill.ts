// Kernel descriptions and dispatch helpers for shaders/fill.wgsl: set a range
// of a float buffer to a value (gradient zeroing before backward, since every
// backward kernel accumulates) and scale a range in place.
// No reference twin: the expectation is one line. Not in a tab's kernel set
// (the trainer clears gradients with clearBuffer); tests and tools use it.
// Dimension letters: N elements.
import source from '../../shaders/fill.wgsl?raw';
import { ELEMENTWISE_WORKGROUP_SIZE, workgroupGrid, type Binding, type GpuContext, type KernelSpec, type PreparedDispatch } from '../gpu/runtime.ts';

const constants = { WORKGROUP_SIZE: ELEMENTWISE_WORKGROUP_SIZE };

export const fillKernel: KernelSpec = {
  name: 'fill',
  file: 'fill.wgsl',
  source,
  entryPoint: 'fill',
  bindings: ['write', 'uniform'],
  constants,
};

export const scaleKernel: KernelSpec = {
  name: 'scale',
  file: 'fill.wgsl',
  source,
  entryPoint: 'scale',
  bindings: ['write', 'uniform'],
  constants,
};

export const fillKernels: readonly KernelSpec[] = [fillKernel, scaleKernel];

export interface RangeOptions {
  /** First element of the range (default 0); any element, no alignment needed. */
  start?: number;
  /** Cap on workgroups along x; lower than the device limit only to exercise the 2-D grid in tests. */
  maxWorkgroupsX?: number;
}

function checkRange(what: string, count: number, start: number): void {
  if (!Number.isInteger(count) || count < 0 || !Number.isInteger(start) || start < 0) {
    throw new RangeError(`${what}: range start ${start}, count ${count} must be non-negative integers`);
  }
}

/** data[start .. start+count) ← value. */
export function prepareFill(
  ctx: GpuContext,
  data: Binding, // (≥ start + count)
  count: number,
  value: number,
  { start = 0, maxWorkgroupsX = ctx.gpu.adapter.limits.maxComputeWorkgroupsPerDimension }: RangeOptions = {},
): Promise<PreparedDispatch> {
  checkRange('fill', count, start);
  return ctx.prepare(fillKernel, [data], workgroupGrid(count, ELEMENTWISE_WORKGROUP_SIZE, maxWorkgroupsX), [
    { u32: start },
    { u32: count },
    { f32: value },
  ]);
}

/** data[start .. start+count) ← data · factor. */
export function prepareScale(
  ctx: GpuContext,
  data: Binding, // (≥ start + count)
  count: number,
  factor: number,
  { start = 0, maxWorkgroupsX = ctx.gpu.adapter.limits.maxComputeWorkgroupsPerDimension }: RangeOptions = {},
): Promise<PreparedDispatch> {
  checkRange('scale', count, start);
  return ctx.prepare(scaleKernel, [data], workgroupGrid(count, ELEMENTWISE_WORKGROUP_SIZE, maxWorkgroupsX), [
    { u32: start },
    { u32: count },
    { f32: factor },
  ]);
}
