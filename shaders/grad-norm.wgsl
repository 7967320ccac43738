// Global gradient L2 norm and clip scale over the flat gradient buffer, in two
// passes and without atomics, so the same gradients always give the same bits:
//   grad_norm_partial:  partials[p0 + w] = Σ grads[i]² over workgroup w's range
//                       [w·chunk, min((w+1)·chunk, n))
//   grad_norm_final:    norm = √(Σ_p partials[p]);
//                       clip_scale = min(1, max_norm / (norm + 1e-6))
// The clip scale stays on the GPU: adamw_update multiplies gradients by it on
// the fly, so a training step needs no readback (clip_grad_norm_ semantics, as
// in nanoGPT; llm.c's gpt2_update takes the same factor as grad_scale).
//
// Order is fixed everywhere: each invocation sums a strided slice of its
// workgroup's range in ascending order, then a fixed binary tree in workgroup
// memory combines the 256 lane sums; pass 2 does the same over the partials.
// The grouping depends only on (n, chunk), which the host derives from n, so
// results are bit-identical run to run (not across different chunkings).
//
// A flat buffer larger than one binding can be reduced as several views: each
// view runs grad_norm_partial with its own partial_offset into one shared
// partials buffer, then one grad_norm_final covers them all.
//
// With the 'subgroups' feature, grad-norm-subgroups.wgsl runs the same two
// passes with subgroupAdd in place of most of the tree.
//
// Leaves out: overflow protection (squares are summed in f32, so gradients
// above ~1e19 give norm = inf and clip_scale = 0). A non-finite norm is the
// trainer's signal to drop the step; it can read `norm` back when it wants to.

struct Params {
  n: u32,              // partial: elements in this (view of the) gradient buffer
  chunk: u32,          // partial: elements per workgroup, a multiple of WORKGROUP_SIZE
  partial_offset: u32, // partial: index of this view's first partial
  num_partials: u32,   // final: partials to combine
  max_norm: f32,       // final: clipping threshold; ≤ 0 disables clipping (scale 1)
}

// Invocations per workgroup, set by src/kernels/grad-norm.ts; the tree below assumes a power of two.
override WORKGROUP_SIZE: u32;

// Both entry points share these two bindings (one pair of variables, so the
// module stays valid on compilers that reject aliased binding slots):
//   grad_norm_partial:  values_in = grads (N),     values_out = partials (P)
//   grad_norm_final:    values_in = partials (P),  values_out = result (2):
//                       [0] norm, [1] clip_scale — the GradNormResult that
//                       adamw.wgsl reads.
@group(0) @binding(0) var<storage, read> values_in: array<f32>;
@group(0) @binding(1) var<storage, read_write> values_out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

var<workgroup> lane_sums: array<f32, WORKGROUP_SIZE>;

// Fixed-shape binary tree over lane_sums; every invocation must call it.
fn reduce_lanes(lane: u32, value: f32) -> f32 {
  lane_sums[lane] = value;
  workgroupBarrier();
  for (var stride = WORKGROUP_SIZE / 2u; stride > 0u; stride >>= 1u) {
    if (lane < stride) {
      lane_sums[lane] += lane_sums[lane + stride];
    }
    workgroupBarrier();
  }
  return lane_sums[0];
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn grad_norm_partial(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let start = wg.x * params.chunk;
  let end = min(start + params.chunk, params.n);
  // Strided within the range so that each load instruction is coalesced.
  var sum = 0.0;
  for (var i = start + lane; i < end; i += WORKGROUP_SIZE) {
    let g = values_in[i];
    sum += g * g;
  }
  let total = reduce_lanes(lane, sum);
  if (lane == 0u) {
    values_out[params.partial_offset + wg.x] = total;
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn grad_norm_final(@builtin(local_invocation_index) lane: u32) {
  var sum = 0.0;
  for (var i = lane; i < params.num_partials; i += WORKGROUP_SIZE) {
    sum += values_in[i];
  }
  let total = reduce_lanes(lane, sum);
  if (lane == 0u) {
    let norm = sqrt(total);
    values_out[0] = norm;
    values_out[1] = select(1.0, min(1.0, params.max_norm / (norm + 1e-6)), params.max_norm > 0.0);
  }
}
