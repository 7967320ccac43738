// Global gradient L2 norm and clip scale with subgroup reductions: the variant
// of grad-norm.wgsl (same passes, bindings, uniform and result; same twin:
// src/reference/grad-norm.ts) for devices with the 'subgroups' feature.
//   grad_norm_partial:  partials[p0 + w] = Σ grads[i]² over workgroup w's range
//   grad_norm_final:    norm = √(Σ_p partials[p]); clip_scale as in grad-norm.wgsl
// Only the combining of the lane sums changes: subgroupAdd inside each
// subgroup, one barrier, then invocation 0 adds the WORKGROUP_SIZE slots in
// index order (each subgroup's first lane holds its sum, every other slot 0),
// where the plain kernel needs log2(WORKGROUP_SIZE) barriers. The slot scan
// does not depend on which invocations WGSL groups into a subgroup. Each
// lane's strided sum and the slot scan run in a fixed order; the subgroup sum's
// order is fixed by the device, so the same gradients give the same bits on one
// device (a different device, or the plain variant, may round differently).
// Leaves out: what grad-norm.wgsl leaves out.
enable subgroups;

struct Params {
  n: u32,              // partial: elements in this (view of the) gradient buffer
  chunk: u32,          // partial: elements per workgroup, a multiple of WORKGROUP_SIZE
  partial_offset: u32, // partial: index of this view's first partial
  num_partials: u32,   // final: partials to combine
  max_norm: f32,       // final: clipping threshold; ≤ 0 disables clipping (scale 1)
}

override WORKGROUP_SIZE: u32; // invocations per workgroup, set by src/kernels/grad-norm.ts

// As in grad-norm.wgsl: grads → partials in pass 1, partials → result in pass 2.
@group(0) @binding(0) var<storage, read> values_in: array<f32>;
@group(0) @binding(1) var<storage, read_write> values_out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

var<workgroup> subgroup_sums: array<f32, WORKGROUP_SIZE>;

// The workgroup's total, valid in invocation 0; every invocation must call it.
fn reduce_lanes(lane: u32, subgroup_lane: u32, value: f32) -> f32 {
  let subgroup_sum = subgroupAdd(value);
  subgroup_sums[lane] = select(0.0, subgroup_sum, subgroup_lane == 0u);
  workgroupBarrier();
  var total = 0.0;
  if (lane == 0u) {
    for (var i = 0u; i < WORKGROUP_SIZE; i++) {
      total += subgroup_sums[i];
    }
  }
  return total;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn grad_norm_partial(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lane: u32,
                     @builtin(subgroup_invocation_id) subgroup_lane: u32) {
  let start = wg.x * params.chunk;
  let end = min(start + params.chunk, params.n);
  var sum = 0.0;
  for (var i = start + lane; i < end; i += WORKGROUP_SIZE) {
    let g = values_in[i];
    sum += g * g;
  }
  let total = reduce_lanes(lane, subgroup_lane, sum);
  if (lane == 0u) {
    values_out[params.partial_offset + wg.x] = total;
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn grad_norm_final(@builtin(local_invocation_index) lane: u32, @builtin(subgroup_invocation_id) subgroup_lane: u32) {
  var sum = 0.0;
  for (var i = lane; i < params.num_partials; i += WORKGROUP_SIZE) {
    sum += values_in[i];
  }
  let total = reduce_lanes(lane, subgroup_lane, sum);
  if (lane == 0u) {
    let norm = sqrt(total);
    values_out[0] = norm;
    values_out[1] = select(1.0, min(1.0, params.max_norm / (norm + 1e-6)), params.max_norm > 0.0);
  }
}
