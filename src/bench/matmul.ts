// `npm run bench -- matmul`: GFLOP/s of our tiled WGSL matmul, the naive WGSL
// kernel, and onnxruntime-web's MatMul, on the same machine in one run. The
// tiled kernel is measured with its default tile and with the tile the tile
// search (src/kernels/tile-search.ts) picks at that shape.
// onnxruntime-web runs on its wasm backend in Node (its WebGPU provider needs a
// browser); the row says which backend produced the number.
import * as ort from 'onnxruntime-web';
import { acquireNodeDevice } from '../gpu/device-node.ts';
import { GpuContext } from '../gpu/runtime.ts';
import { DEFAULT_MATMUL_TILE, prepareMatmulForward } from '../kernels/matmul.ts';
import { searchMatmulTile } from '../kernels/tile-search.ts';
import { GraphBuilder } from '../onnx/builder.ts';
import { printTable, round, timeIt, type BenchOptions } from './report.ts';

/** [m, k, n]: out(m, n) = inp(m, k) · weight(n, k)ᵀ. */
const SHAPES: [number, number, number][] = [
  [256, 256, 256],
  [512, 512, 512],
  [1024, 1024, 1024],
  [1024, 384, 1536], // GPT MLP up-projection: BT=1024, C=384, OC=4C
  [1024, 1536, 384], // GPT MLP down-projection
  [1024, 384, 1152], // GPT qkv projection: OC=3C
];

export async function benchMatmul(options: BenchOptions) {
  const gpu = await acquireNodeDevice();
  const ctx = new GpuContext(gpu);
  const adapter = `${gpu.adapter.vendor}/${gpu.adapter.architecture}`;
  const shapes = options.shapes ?? SHAPES;
  ort.env.wasm.numThreads = Math.max(1, Math.min(4, (await import('node:os')).cpus().length));

  const rows = [];
  for (const [m, k, n] of shapes) {
    const flops = 2 * m * n * k;
    const inp = new Float32Array(m * k).map((_, i) => Math.sin(i));
    const weight = new Float32Array(n * k).map((_, i) => Math.cos(i));
    const buffers = {
      out: ctx.createBuffer('out', m * n * 4),
      inp: ctx.upload('inp', inp),
      weight: ctx.upload('weight', weight),
      bias: null,
    };
    const search = await searchMatmulTile(ctx, { M: m, K: k, N: n }, { budgetMs: options.budgetMs });
    const ours = await prepareMatmulForward(ctx, buffers, m, k, n, DEFAULT_MATMUL_TILE);
    const searched = await prepareMatmulForward(ctx, buffers, m, k, n, search.tile);
    const naive = await prepareMatmulForward(ctx, buffers, m, k, n, 'naive');
    const oursMs = await timeIt(() => ctx.run([ours]), options.budgetMs);
    const searchedMs = search.tile === DEFAULT_MATMUL_TILE ? oursMs : await timeIt(() => ctx.run([searched]), options.budgetMs);
    const naiveMs = await timeIt(() => ctx.run([naive]), options.budgetMs, 5);

    // onnxruntime-web: Y(m, n) = X(m, k) · Wᵀ with W (n, k) as an initializer, via Gemm(transB=1).
    const graph = new GraphBuilder('matmul');
    graph.input('x', 'float32', [m, k]);
    graph.constant('w', [n, k], weight);
    graph.node('Gemm', ['x', 'w'], { transB: 1 }, ['y']);
    graph.output('y', 'float32', [m, n]);
    const session = await ort.InferenceSession.create(graph.build(), { executionProviders: ['wasm'] });
    const feeds = { x: new ort.Tensor('float32', inp, [m, k]) };
    const ortMs = await timeIt(async () => {
      await session.run(feeds);
    }, options.budgetMs);
    await session.release();

    ctx.release([ours, searched, naive]);
    for (const b of [buffers.out, buffers.inp, buffers.weight]) b.destroy();
    rows.push({
      m,
      n,
      k,
      tessera_gflops: round(flops / oursMs / 1e6),
      tile: search.tile,
      searched_gflops: round(flops / searchedMs / 1e6),
      naive_gflops: round(flops / naiveMs / 1e6),
      ort_gflops: round(flops / ortMs / 1e6),
      ort_backend: `wasm-${ort.env.wasm.numThreads}t`,
    });
  }
  printTable(`matmul on ${adapter} (GFLOP/s, median of repeats)`, rows.map((r) => ({
    shape: `${r.m}x${r.k}x${r.n}`,
    tessera: r.tessera_gflops,
    tile: r.tile,
    searched: r.searched_gflops,
    naive: r.naive_gflops,
    ort: r.ort_gflops,
    ort_backend: r.ort_backend,
    'tessera/naive': round(r.tessera_gflops / r.naive_gflops, 2),
    'tessera/ort': round(r.tessera_gflops / r.ort_gflops, 2),
    'searched/tessera': round(r.searched_gflops / r.tessera_gflops, 2),
  })));
  gpu.device.destroy();
  return { bench: 'matmul', adapter, rows };
}
