// LayerNorm over the last dimension (llm.c layernorm_forward / layernorm_backward):
//   mean = Σx/C,  rstd = 1/√(Σ(x−mean)²/C + 1e-5),  out = (x−mean)·rstd·weight + bias
// Forward also writes mean and rstd (B*T) for the backward pass. Backward
// accumulates into dinp, dweight and dbias. No workgroup memory, no barriers,
// no atomics: every sum runs in a fixed order inside one invocation, so the
// same inputs give the same bits on every run.
//
// Why one invocation per row. The first version used a 128- (forward) or
// 256-invocation (backward) workgroup per row with tree reductions. On
// SwiftShader, our CI adapter, every workgroupBarrier() turns the workgroup's
// invocations into coroutines that are switched at each barrier, and a 64-wide
// row left most of those invocations idle. Measured with src/bench/kernels.ts
// on SwiftShader (2 shared cores, so ±2× noise): at (B·T, C) = (256, 64)
// forward 65 ms → 0.5 ms, backward ~185 ms → ~1 ms (all three dispatches); at
// (2048, 256) forward 1–3.7 s → 20–60 ms, backward 2–10 s → 40–180 ms. A small
// workgroup per row (32 or 64 with a tree) was also tried: 30–80 ms forward
// at (256, 64), barriers still dominate. On a real GPU a thread per row
// reads its row with a stride of C between neighbouring threads, so each load
// instruction touches many cache lines, but each line is reused by the next
// iterations of the same thread from L1; layernorm is a small share of a step,
// and the shapes we train (C ≤ 768, B·T in the thousands) still give thousands
// of threads. A workgroup per row only pays off for very wide rows, which we
// do not train.
//
// layernorm_forward: invocation = row. Two passes (mean, then Σ(x−mean)²) as in
// llm.c, more accurate than E[x²]−mean² for rows with a large mean; each sum
// uses four interleaved accumulators (a C/4-long dependency chain: less
// rounding and more instruction-level parallelism than one running sum).
//
// layernorm_backward, three dispatches run in order:
//   layernorm_backward_dinp: invocation = row; the two row sums
//     Σ weight·dout and Σ weight·dout·norm, then dinp.
//   layernorm_backward_partials: invocation = (block of ROWS_PER_BLOCK rows,
//     column); sums norm·dout and dout over its rows in order into
//     partials (2, K, C), K = ⌈B·T / ROWS_PER_BLOCK⌉. Neighbouring invocations
//     read neighbouring columns (coalesced on GPUs, contiguous vector loads on
//     SwiftShader), and there are K·C of them, enough parallelism at large B·T
//     where one invocation per column looping over all rows would be serial.
//   layernorm_backward_reduce: invocation = column; dweight, dbias += the K
//     partials in block order.
// With the 'subgroups' feature, layernorm-subgroups.wgsl replaces the forward
// and dinp entry points with one subgroup per row (coalesced row reads, the
// row sums by subgroupAdd); partials and reduce below serve both variants.
// Leaves out: fusing the residual add, vec4 loads (C need not be a multiple of 4).

const EPS = 1e-5;
// Both set by src/kernels/layernorm.ts, which says why.
override WORKGROUP_SIZE: u32; // invocations per workgroup of every entry point
override ROWS_PER_BLOCK: u32; // rows per dweight/dbias partial sum

struct Params {
  N: u32, // rows, B*T
  C: u32, // channels
  K: u32, // row blocks, ⌈N / ROWS_PER_BLOCK⌉ (backward only)
}

// This invocation's index, with the workgroup grid folded into 2-D past 65535.
fn invocation_index(wid: vec3u, nwg: vec3u, lid: vec3u) -> u32 {
  return (wid.y * nwg.x + wid.x) * WORKGROUP_SIZE + lid.x;
}

// ── forward ──────────────────────────────────────────────────────────────────
@group(0) @binding(0) var<storage, read_write> out: array<f32>;  // (B, T, C)
@group(0) @binding(1) var<storage, read_write> mean: array<f32>; // (B, T)
@group(0) @binding(2) var<storage, read_write> rstd: array<f32>; // (B, T)
@group(0) @binding(3) var<storage, read> inp: array<f32>;        // (B, T, C)
@group(0) @binding(4) var<storage, read> weight: array<f32>;     // (C)
@group(0) @binding(5) var<storage, read> bias: array<f32>;       // (C)
@group(0) @binding(6) var<uniform> forward_params: Params;

@compute @workgroup_size(WORKGROUP_SIZE)
fn layernorm_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                     @builtin(local_invocation_id) lid: vec3u) {
  let row = invocation_index(wid, nwg, lid);
  let C = forward_params.C;
  if (row >= forward_params.N) { return; }
  let base = row * C;
  // Columns [0, C4) go through the four accumulators, the last C % 4 after them.
  let C4 = C & ~3u;

  var acc = vec4f(0.0);
  for (var c = 0u; c < C4; c += 4u) {
    acc += vec4f(inp[base + c], inp[base + c + 1u], inp[base + c + 2u], inp[base + c + 3u]);
  }
  var sum = (acc.x + acc.y) + (acc.z + acc.w);
  for (var c = C4; c < C; c++) { sum += inp[base + c]; }
  let m = sum / f32(C);

  acc = vec4f(0.0);
  for (var c = 0u; c < C4; c += 4u) {
    let shifted = vec4f(inp[base + c], inp[base + c + 1u], inp[base + c + 2u], inp[base + c + 3u]) - m;
    acc += shifted * shifted;
  }
  var squares = (acc.x + acc.y) + (acc.z + acc.w);
  for (var c = C4; c < C; c++) {
    let shifted = inp[base + c] - m;
    squares += shifted * shifted;
  }
  let s = 1.0 / sqrt(squares / f32(C) + EPS);

  for (var c = 0u; c < C; c++) {
    out[base + c] = s * (inp[base + c] - m) * weight[c] + bias[c];
  }
  mean[row] = m;
  rstd[row] = s;
}

// ── backward: dinp ───────────────────────────────────────────────────────────
@group(0) @binding(0) var<storage, read_write> dinp: array<f32>;      // (B, T, C)
@group(0) @binding(1) var<storage, read> dinp_dout: array<f32>;       // (B, T, C)
@group(0) @binding(2) var<storage, read> dinp_inp: array<f32>;        // (B, T, C)
@group(0) @binding(3) var<storage, read> dinp_weight: array<f32>;     // (C)
@group(0) @binding(4) var<storage, read> dinp_mean: array<f32>;       // (B, T)
@group(0) @binding(5) var<storage, read> dinp_rstd: array<f32>;       // (B, T)
@group(0) @binding(6) var<uniform> dinp_params: Params;

@compute @workgroup_size(WORKGROUP_SIZE)
fn layernorm_backward_dinp(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                           @builtin(local_invocation_id) lid: vec3u) {
  let row = invocation_index(wid, nwg, lid);
  let C = dinp_params.C;
  if (row >= dinp_params.N) { return; }
  let base = row * C;
  let m = dinp_mean[row];
  let s = dinp_rstd[row];
  let C4 = C & ~3u;

  // Σ dnorm and Σ dnorm·norm, four interleaved accumulators each as in the forward.
  var dnorm_acc = vec4f(0.0);
  var dnorm_norm_acc = vec4f(0.0);
  for (var c = 0u; c < C4; c += 4u) {
    let norm = (vec4f(dinp_inp[base + c], dinp_inp[base + c + 1u], dinp_inp[base + c + 2u], dinp_inp[base + c + 3u]) - m) * s;
    let dnorm = vec4f(dinp_weight[c], dinp_weight[c + 1u], dinp_weight[c + 2u], dinp_weight[c + 3u]) *
                vec4f(dinp_dout[base + c], dinp_dout[base + c + 1u], dinp_dout[base + c + 2u], dinp_dout[base + c + 3u]);
    dnorm_acc += dnorm;
    dnorm_norm_acc += dnorm * norm;
  }
  var dnorm_sum = (dnorm_acc.x + dnorm_acc.y) + (dnorm_acc.z + dnorm_acc.w);
  var dnorm_norm_sum = (dnorm_norm_acc.x + dnorm_norm_acc.y) + (dnorm_norm_acc.z + dnorm_norm_acc.w);
  for (var c = C4; c < C; c++) {
    let norm = (dinp_inp[base + c] - m) * s;
    let dnorm = dinp_weight[c] * dinp_dout[base + c];
    dnorm_sum += dnorm;
    dnorm_norm_sum += dnorm * norm;
  }
  let dnorm_mean = dnorm_sum / f32(C);
  let dnorm_norm_mean = dnorm_norm_sum / f32(C);

  for (var c = 0u; c < C; c++) {
    let norm = (dinp_inp[base + c] - m) * s;
    let dnorm = dinp_weight[c] * dinp_dout[base + c];
    dinp[base + c] += (dnorm - dnorm_mean - norm * dnorm_norm_mean) * s;
  }
}

// ── backward: dweight, dbias partial sums over row blocks ────────────────────
@group(0) @binding(0) var<storage, read_write> partials: array<f32>;  // (2, K, C): Σ norm·dout, then Σ dout
@group(0) @binding(1) var<storage, read> partials_dout: array<f32>;   // (B, T, C)
@group(0) @binding(2) var<storage, read> partials_inp: array<f32>;    // (B, T, C)
@group(0) @binding(3) var<storage, read> partials_mean: array<f32>;   // (B, T)
@group(0) @binding(4) var<storage, read> partials_rstd: array<f32>;   // (B, T)
@group(0) @binding(5) var<uniform> partials_params: Params;

@compute @workgroup_size(WORKGROUP_SIZE)
fn layernorm_backward_partials(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                               @builtin(local_invocation_id) lid: vec3u) {
  let index = invocation_index(wid, nwg, lid); // block · C + column
  let C = partials_params.C;
  let K = partials_params.K;
  if (index >= K * C) { return; }
  let block = index / C;
  let column = index % C;
  let end = min(partials_params.N, (block + 1u) * ROWS_PER_BLOCK);
  var dweight_sum = 0.0;
  var dbias_sum = 0.0;
  for (var row = block * ROWS_PER_BLOCK; row < end; row++) {
    let d = partials_dout[row * C + column];
    dweight_sum += (partials_inp[row * C + column] - partials_mean[row]) * partials_rstd[row] * d;
    dbias_sum += d;
  }
  partials[index] = dweight_sum;
  partials[K * C + index] = dbias_sum;
}

// ── backward: dweight, dbias += the partials, in block order ─────────────────
@group(0) @binding(0) var<storage, read_write> dweight: array<f32>;   // (C)
@group(0) @binding(1) var<storage, read_write> dbias: array<f32>;     // (C)
@group(0) @binding(2) var<storage, read> reduce_partials: array<f32>; // (2, K, C)
@group(0) @binding(3) var<uniform> reduce_params: Params;

@compute @workgroup_size(WORKGROUP_SIZE)
fn layernorm_backward_reduce(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                             @builtin(local_invocation_id) lid: vec3u) {
  let column = invocation_index(wid, nwg, lid);
  let C = reduce_params.C;
  let K = reduce_params.K;
  if (column >= C) { return; }
  var dweight_sum = 0.0;
  var dbias_sum = 0.0;
  for (var block = 0u; block < K; block++) {
    dweight_sum += reduce_partials[block * C + column];
    dbias_sum += reduce_partials[(K + block) * C + column];
  }
  dweight[column] += dweight_sum;
  dbias[column] += dbias_sum;
}
