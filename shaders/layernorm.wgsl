// LayerNorm over the last dimension (llm.c layernorm_forward / layernorm_backward):
//   mean = Σx/C,  rstd = 1/√(Σ(x−mean)²/C + 1e-5),  out = (x−mean)·rstd·weight + bias
// Forward also writes mean and rstd (B*T) for the backward pass. Backward
// accumulates into dinp, dweight and dbias.
//
// layernorm_forward: one workgroup of 128 per row; each invocation sums a
// strided slice of the row in order, then a fixed-order tree reduction in
// workgroup memory. Two passes (mean, then Σ(x−mean)²) as in llm.c, which is
// more accurate than E[x²]−mean² for rows with a large mean.
//
// layernorm_backward, one dispatch of N + ⌈C/32⌉ workgroups of 256 (N = B*T):
//   workgroups [0, N): one row each → dinp, with the two row sums
//     Σ weight·dout and Σ weight·dout·norm tree-reduced as in the forward;
//   workgroups [N, N+⌈C/32⌉): one block of 32 columns each → dweight, dbias.
//     Invocation (lane, column) with lane in 0..7 sums rows lane, lane+8, … in
//     order; the 8 lane sums are then tree-reduced in a fixed order. Reads of
//     32 adjacent columns stay coalesced, and no float atomics are needed: the
//     same inputs give the same bits on every run.
// Leaves out: fusing the residual add, vec4 loads (C need not be a multiple of 4).

const EPS = 1e-5;
const FORWARD_WORKGROUP_SIZE = 128u;
const BACKWARD_WORKGROUP_SIZE = 256u;
const COLUMN_TILE = 32u;                                      // columns per column workgroup
const ROW_LANES = BACKWARD_WORKGROUP_SIZE / COLUMN_TILE;      // 8 row lanes per column

struct Params {
  N: u32, // rows, B*T
  C: u32, // channels
}

// The row index of a workgroup, with the grid folded into 2-D past 65535.
fn workgroup_index(wid: vec3u, nwg: vec3u) -> u32 {
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

var<workgroup> forward_scratch: array<f32, FORWARD_WORKGROUP_SIZE>;

// Sum of forward_scratch over the workgroup, fixed order; every invocation gets it.
fn forward_workgroup_sum(l: u32, value: f32) -> f32 {
  forward_scratch[l] = value;
  workgroupBarrier();
  for (var stride = FORWARD_WORKGROUP_SIZE / 2u; stride > 0u; stride /= 2u) {
    if (l < stride) { forward_scratch[l] += forward_scratch[l + stride]; }
    workgroupBarrier();
  }
  let total = forward_scratch[0];
  // Nobody may overwrite slot 0 with the next sum before everyone has read it.
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(FORWARD_WORKGROUP_SIZE)
fn layernorm_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                     @builtin(local_invocation_id) lid: vec3u) {
  let row = workgroup_index(wid, nwg);
  let C = forward_params.C;
  if (row >= forward_params.N) { return; }
  let l = lid.x;
  let base = row * C;

  var sum = 0.0;
  for (var c = l; c < C; c += FORWARD_WORKGROUP_SIZE) { sum += inp[base + c]; }
  let m = forward_workgroup_sum(l, sum) / f32(C);

  var squares = 0.0;
  for (var c = l; c < C; c += FORWARD_WORKGROUP_SIZE) {
    let shifted = inp[base + c] - m;
    squares += shifted * shifted;
  }
  let variance = forward_workgroup_sum(l, squares) / f32(C);
  let s = 1.0 / sqrt(variance + EPS);

  for (var c = l; c < C; c += FORWARD_WORKGROUP_SIZE) {
    out[base + c] = s * (inp[base + c] - m) * weight[c] + bias[c];
  }
  if (l == 0u) {
    mean[row] = m;
    rstd[row] = s;
  }
}

// ── backward ─────────────────────────────────────────────────────────────────
@group(0) @binding(0) var<storage, read_write> dinp: array<f32>;    // (B, T, C)
@group(0) @binding(1) var<storage, read_write> dweight: array<f32>; // (C)
@group(0) @binding(2) var<storage, read_write> dbias: array<f32>;   // (C)
@group(0) @binding(3) var<storage, read> dout: array<f32>;          // (B, T, C)
@group(0) @binding(4) var<storage, read> backward_inp: array<f32>;  // (B, T, C)
@group(0) @binding(5) var<storage, read> backward_weight: array<f32>; // (C)
@group(0) @binding(6) var<storage, read> saved_mean: array<f32>;    // (B, T)
@group(0) @binding(7) var<storage, read> saved_rstd: array<f32>;    // (B, T)
@group(0) @binding(8) var<uniform> backward_params: Params;

var<workgroup> scratch_a: array<f32, BACKWARD_WORKGROUP_SIZE>;
var<workgroup> scratch_b: array<f32, BACKWARD_WORKGROUP_SIZE>;

@compute @workgroup_size(BACKWARD_WORKGROUP_SIZE)
fn layernorm_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                      @builtin(local_invocation_id) lid: vec3u) {
  let index = workgroup_index(wid, nwg);
  let N = backward_params.N;
  let C = backward_params.C;
  let l = lid.x;

  if (index < N) {
    // Row role: dinp for one row.
    let row = index;
    let base = row * C;
    let m = saved_mean[row];
    let s = saved_rstd[row];
    var dnorm_sum = 0.0;
    var dnorm_norm_sum = 0.0;
    for (var c = l; c < C; c += BACKWARD_WORKGROUP_SIZE) {
      let norm = (backward_inp[base + c] - m) * s;
      let dnorm = backward_weight[c] * dout[base + c];
      dnorm_sum += dnorm;
      dnorm_norm_sum += dnorm * norm;
    }
    scratch_a[l] = dnorm_sum;
    scratch_b[l] = dnorm_norm_sum;
    workgroupBarrier();
    for (var stride = BACKWARD_WORKGROUP_SIZE / 2u; stride > 0u; stride /= 2u) {
      if (l < stride) {
        scratch_a[l] += scratch_a[l + stride];
        scratch_b[l] += scratch_b[l + stride];
      }
      workgroupBarrier();
    }
    let dnorm_mean = scratch_a[0] / f32(C);
    let dnorm_norm_mean = scratch_b[0] / f32(C);
    for (var c = l; c < C; c += BACKWARD_WORKGROUP_SIZE) {
      let norm = (backward_inp[base + c] - m) * s;
      let dnorm = backward_weight[c] * dout[base + c];
      dinp[base + c] += (dnorm - dnorm_mean - norm * dnorm_norm_mean) * s;
    }
  } else if (index < N + (C + COLUMN_TILE - 1u) / COLUMN_TILE) {
    // Column role: dweight and dbias for COLUMN_TILE columns.
    let column = (index - N) * COLUMN_TILE + l % COLUMN_TILE;
    let lane = l / COLUMN_TILE;
    var dweight_sum = 0.0;
    var dbias_sum = 0.0;
    if (column < C) {
      for (var row = lane; row < N; row += ROW_LANES) {
        let d = dout[row * C + column];
        let norm = (backward_inp[row * C + column] - saved_mean[row]) * saved_rstd[row];
        dweight_sum += norm * d;
        dbias_sum += d;
      }
    }
    scratch_a[l] = dweight_sum;
    scratch_b[l] = dbias_sum;
    workgroupBarrier();
    for (var stride = ROW_LANES / 2u; stride > 0u; stride /= 2u) {
      if (lane < stride) {
        scratch_a[l] += scratch_a[l + stride * COLUMN_TILE];
        scratch_b[l] += scratch_b[l + stride * COLUMN_TILE];
      }
      workgroupBarrier();
    }
    if (lane == 0u && column < C) {
      dweight[column] += scratch_a[l];
      dbias[column] += scratch_b[l];
    }
  }
}
