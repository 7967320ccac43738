// LayerNorm forward and the dinp half of its backward with subgroup reductions:
// the variant of layernorm_forward / layernorm_backward_dinp in layernorm.wgsl
// (same bindings, same formulas, same twin: src/reference/layernorm.ts) for
// devices with the 'subgroups' feature. llm.c's CUDA layernorm
// (layernorm_forward_kernel3) gives each row to one warp; this does the same.
//
// One workgroup per row, WORKGROUP_SIZE = the adapter's smallest subgroup size
// (set by src/kernels/layernorm.ts), so a workgroup is exactly one subgroup and
// no workgroup memory or barrier is needed: lane l reads columns l, l + S,
// l + 2S… (neighbouring lanes read neighbouring floats: coalesced, where the
// plain kernel's invocation-per-row reads with a stride of C), and
// subgroupAdd combines the lanes. The lane sums run in a fixed order; the
// subgroup sum's order is the hardware's, fixed for a given device, so results
// repeat bit for bit on one device (tests/gpu/layernorm.test.ts checks it).
// Why not a wider workgroup with several rows: which invocations form a
// subgroup is not specified by WGSL, so a row per subgroup inside a larger
// workgroup would rest on an assumption about that mapping.
// Leaves out: the dweight/dbias partials and their reduce (column sums, no row
// reduction: layernorm.wgsl's entry points run with either variant).
enable subgroups;

const EPS = 1e-5;
override WORKGROUP_SIZE: u32; // lanes per row: the adapter's smallest subgroup

struct Params {
  N: u32, // rows, B*T
  C: u32, // channels
  K: u32, // unused here (the partials' row blocks)
}

// This workgroup's row, with the grid folded into 2-D past 65535 workgroups.
fn row_index(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.y * nwg.x + wid.x;
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
                     @builtin(local_invocation_index) lane: u32) {
  let row = row_index(wid, nwg);
  let C = forward_params.C;
  if (row >= forward_params.N) { return; }
  let base = row * C;

  var sum = 0.0;
  for (var c = lane; c < C; c += WORKGROUP_SIZE) { sum += inp[base + c]; }
  let m = subgroupAdd(sum) / f32(C);

  // Two passes, as in the plain kernel: Σ(x − mean)² stays accurate for rows with a large mean.
  var squares = 0.0;
  for (var c = lane; c < C; c += WORKGROUP_SIZE) {
    let shifted = inp[base + c] - m;
    squares += shifted * shifted;
  }
  let s = 1.0 / sqrt(subgroupAdd(squares) / f32(C) + EPS);

  for (var c = lane; c < C; c += WORKGROUP_SIZE) {
    out[base + c] = s * (inp[base + c] - m) * weight[c] + bias[c];
  }
  if (lane == 0u) {
    mean[row] = m;
    rstd[row] = s;
  }
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
                           @builtin(local_invocation_index) lane: u32) {
  let row = row_index(wid, nwg);
  let C = dinp_params.C;
  if (row >= dinp_params.N) { return; }
  let base = row * C;
  let m = dinp_mean[row];
  let s = dinp_rstd[row];

  var dnorm_sum = 0.0;
  var dnorm_norm_sum = 0.0;
  for (var c = lane; c < C; c += WORKGROUP_SIZE) {
    let norm = (dinp_inp[base + c] - m) * s;
    let dnorm = dinp_weight[c] * dinp_dout[base + c];
    dnorm_sum += dnorm;
    dnorm_norm_sum += dnorm * norm;
  }
  let dnorm_mean = subgroupAdd(dnorm_sum) / f32(C);
  let dnorm_norm_mean = subgroupAdd(dnorm_norm_sum) / f32(C);

  for (var c = lane; c < C; c += WORKGROUP_SIZE) {
    let norm = (dinp_inp[base + c] - m) * s;
    let dnorm = dinp_weight[c] * dinp_dout[base + c];
    dinp[base + c] += (dnorm - dnorm_mean - norm * dnorm_norm_mean) * s;
  }
}
