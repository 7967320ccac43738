// Kernel descriptions and dispatch helpers for shaders/matmul.wgsl (tiled, with
// its tile shape as override constants: the candidates of the tile search) and
// shaders/matmul-naive.wgsl (the baseline). Reference twin:
// src/reference/matmul.ts. Dimension letters: BT rows, C inputs, OC outputs.
import matmulSource from '../../shaders/matmul.wgsl?raw';
import naiveSource from '../../shaders/matmul-naive.wgsl?raw';
import { divUp, type Binding, type GpuContext, type KernelSpec, type PreparedDispatch } from '../gpu/runtime.ts';

/**
 * One tile shape of matmul.wgsl, as its override constants: a WG_X × WG_Y
 * workgroup computes a (WG_Y·ROWS) × (WG_X·4·COLS) tile of the result, staging
 * TILE_K-deep slabs of both operands in workgroup memory.
 */
export interface MatmulTile {
  readonly WG_X: number;
  readonly WG_Y: number;
  readonly ROWS: number; // 4 or 8
  readonly COLS: number; // vec4s: 1 or 2
  readonly TILE_K: number;
}

/**
 * The candidates of the tile search (src/kernels/tile-search.ts), by name.
 * The first is the default: the best on SwiftShader when it was written, and a
 * common choice on discrete GPUs. The others trade tile size (parallelism on
 * small matrices, e.g. the nano preset's 64-wide layers) against reuse
 * (FMAs per workgroup load) and workgroup size.
 */
export const MATMUL_TILES: Readonly<Record<string, MatmulTile>> = {
  '64x64/8x8': { WG_X: 8, WG_Y: 8, ROWS: 8, COLS: 2, TILE_K: 16 },
  '64x64/4x4': { WG_X: 16, WG_Y: 16, ROWS: 4, COLS: 1, TILE_K: 16 },
  '32x64/4x8': { WG_X: 8, WG_Y: 8, ROWS: 4, COLS: 2, TILE_K: 16 },
  '32x32/4x4': { WG_X: 8, WG_Y: 8, ROWS: 4, COLS: 1, TILE_K: 16 },
};
export const DEFAULT_MATMUL_TILE = '64x64/8x8';

/** Invocations per workgroup of matmul_backward_bias (one column each, no barriers). */
const BIAS_WORKGROUP_SIZE = 64;

/** Rows and columns of the result one workgroup of this tile covers. */
export const tileExtent = (tile: MatmulTile) => ({ M: tile.WG_Y * tile.ROWS, N: tile.WG_X * 4 * tile.COLS });

/** Why a tile cannot run as matmul.wgsl is written, or null when it can. */
export function tileProblem(tile: MatmulTile): string | null {
  const { M, N } = tileExtent(tile);
  const invocations = tile.WG_X * tile.WG_Y;
  if (![4, 8].includes(tile.ROWS) || ![1, 2].includes(tile.COLS)) return 'ROWS must be 4 or 8 and COLS 1 or 2 (the shader holds at most 16 vec4 accumulators)';
  if (!(tile.TILE_K >= 1 && Number.isInteger(tile.TILE_K))) return `TILE_K = ${tile.TILE_K} must be a positive integer`;
  if (((tile.TILE_K * M) / 4) % invocations || ((tile.TILE_K * N) / 4) % invocations) return 'each slab must split evenly over the invocations';
  if (invocations > 256) return `${invocations} invocations exceed the 256 every training adapter has`;
  // Two slabs of vec4s, within the 16 KiB floor of maxComputeWorkgroupStorageSize.
  if (tile.TILE_K * (M + N) * 4 > 16 * 1024) return 'the two slabs exceed 16 KiB of workgroup memory';
  return null;
}

const tiled = (entryPoint: string, tileName: string): KernelSpec => {
  const tile = MATMUL_TILES[tileName];
  return {
    name: tileName === DEFAULT_MATMUL_TILE ? entryPoint : `${entryPoint}[${tileName}]`,
    file: 'matmul.wgsl',
    source: matmulSource,
    entryPoint,
    bindings: ['write', 'read', 'read', 'read', 'uniform'],
    constants: { ...tile },
  };
};

export interface MatmulKernels {
  forward: KernelSpec;
  backwardInput: KernelSpec;
  backwardWeight: KernelSpec;
  backwardBias: KernelSpec;
  tile: MatmulTile;
}

/** The kernels for one tile (by name; default: the context's choice, else DEFAULT_MATMUL_TILE). */
export function matmulKernels(ctx: GpuContext, tileName = ctx.choices.matmulTile ?? DEFAULT_MATMUL_TILE): MatmulKernels {
  const tile = MATMUL_TILES[tileName];
  if (!tile) throw new RangeError(`unknown matmul tile "${tileName}" (known: ${Object.keys(MATMUL_TILES).join(', ')})`);
  return {
    forward: tiled('matmul_forward', tileName),
    backwardInput: tiled('matmul_backward_input', tileName),
    backwardWeight: tiled('matmul_backward_weight', tileName),
    backwardBias: {
      name: 'matmul_backward_bias',
      file: 'matmul.wgsl',
      source: matmulSource,
      entryPoint: 'matmul_backward_bias',
      bindings: ['write', 'read', 'read', 'read', 'uniform'],
      constants: { BIAS_WORKGROUP_SIZE },
    },
    tile,
  };
}

/** The deliberately naive baseline (benches and tests only). */
export const matmulNaiveForwardKernel: KernelSpec = {
  name: 'matmul_naive_forward',
  file: 'matmul-naive.wgsl',
  source: naiveSource,
  entryPoint: 'matmul_naive_forward',
  bindings: ['write', 'read', 'read', 'read', 'uniform'],
  constants: { WORKGROUP_SIDE: 16 },
};

export interface MatmulForwardBuffers {
  out: Binding; // (BT, OC)
  inp: Binding; // (BT, C)
  weight: Binding; // (OC, C)
  bias: Binding | null; // (OC)
}

/**
 * out = inp · weightᵀ + bias. A bias of null binds `weight` in its place,
 * unused. `variant`: a tile name (the tile search times each) or 'naive'.
 */
export function prepareMatmulForward(
  ctx: GpuContext,
  { out, inp, weight, bias }: MatmulForwardBuffers,
  BT: number,
  C: number,
  OC: number,
  variant?: string,
): Promise<PreparedDispatch> {
  let kernel: KernelSpec;
  let workgroups: [number, number];
  if (variant === 'naive') {
    const side = matmulNaiveForwardKernel.constants!.WORKGROUP_SIDE;
    [kernel, workgroups] = [matmulNaiveForwardKernel, [divUp(OC, side), divUp(BT, side)]];
  } else {
    const kernels = matmulKernels(ctx, variant);
    const extent = tileExtent(kernels.tile);
    [kernel, workgroups] = [kernels.forward, [divUp(OC, extent.N), divUp(BT, extent.M)]];
  }
  return ctx.prepare(kernel, [out, inp, weight, bias ?? weight], workgroups, [
    { u32: BT },
    { u32: OC },
    { u32: C },
    { u32: bias ? 1 : 0 },
  ]);
}

export interface MatmulBackwardBuffers {
  dinp: Binding | null; // (BT, C); null when the input needs no gradient (e.g. nothing upstream)
  dweight: Binding; // (OC, C)
  dbias: Binding | null; // (OC)
  dout: Binding; // (BT, OC)
  inp: Binding; // (BT, C)
  weight: Binding; // (OC, C)
}

/** dinp += dout · weight; dweight += doutᵀ · inp; dbias += Σ_bt dout. */
export async function prepareMatmulBackward(
  ctx: GpuContext,
  { dinp, dweight, dbias, dout, inp, weight }: MatmulBackwardBuffers,
  BT: number,
  C: number,
  OC: number,
): Promise<PreparedDispatch[]> {
  const kernels = matmulKernels(ctx);
  const extent = tileExtent(kernels.tile);
  const dispatches: Promise<PreparedDispatch>[] = [];
  if (dinp) {
    dispatches.push(
      ctx.prepare(kernels.backwardInput, [dinp, dout, weight, weight], [divUp(C, extent.N), divUp(BT, extent.M)], [
        { u32: BT },
        { u32: C },
        { u32: OC },
        { u32: 0 },
      ]),
    );
  }
  dispatches.push(
    ctx.prepare(kernels.backwardWeight, [dweight, dout, inp, inp], [divUp(C, extent.N), divUp(OC, extent.M)], [
      { u32: OC },
      { u32: C },
      { u32: BT },
      { u32: 0 },
    ]),
  );
  if (dbias) {
    dispatches.push(
      ctx.prepare(kernels.backwardBias, [dbias, dout, dout, dout], [divUp(OC, BIAS_WORKGROUP_SIZE)], [
        { u32: BT },
        { u32: OC },
        { u32: 0 },
        { u32: 0 },
      ]),
    );
  }
  return Promise.all(dispatches);
}
