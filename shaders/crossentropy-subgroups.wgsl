// Softmax fused with the cross-entropy loss, forward, with subgroup reductions:
// the variant of crossentropy_forward in crossentropy.wgsl (same bindings, same
// formulas, same twin: src/reference/crossentropy.ts) for devices with the
// 'subgroups' feature. crossentropy_backward and loss_mean in
// crossentropy.wgsl serve both variants (backward has no reduction).
//
// One workgroup per (b, t) row, WORKGROUP_SIZE = the adapter's smallest
// subgroup size (set by src/kernels/crossentropy.ts), so a workgroup is one
// subgroup: lane l reads logits l, l + S, l + 2S… (coalesced), subgroupMax and
// subgroupAdd combine the lanes, with no workgroup memory or barrier. Why a
// workgroup is one subgroup: see layernorm-subgroups.wgsl. Each lane's sums run
// in a fixed order and the subgroup's order is fixed by the device, so results
// repeat bit for bit on one device.
// Leaves out: what crossentropy.wgsl leaves out.
enable subgroups;

struct Params {
  rows: u32, // B·T
  V: u32,
}

override WORKGROUP_SIZE: u32; // lanes per row: the adapter's smallest subgroup
const LOWEST: f32 = -0x1.fffffep+127f;

@group(0) @binding(0) var<storage, read_write> losses: array<f32>; // (B, T)
@group(0) @binding(1) var<storage, read_write> probs: array<f32>;  // (B, T, V)
@group(0) @binding(2) var<storage, read> logits: array<f32>;       // (B, T, V)
@group(0) @binding(3) var<storage, read> targets: array<u32>;      // (B, T)
@group(0) @binding(4) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP_SIZE)
fn crossentropy_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                        @builtin(local_invocation_index) lane: u32) {
  let row = wid.y * nwg.x + wid.x; // the grid folds into 2-D past 65535 workgroups
  if (row >= params.rows) {
    return;
  }
  let V = params.V;
  let x = row * V;
  var lane_max = LOWEST;
  for (var i = lane; i < V; i += WORKGROUP_SIZE) {
    lane_max = max(lane_max, logits[x + i]);
  }
  let max_logit = subgroupMax(lane_max);
  // Subtracting the max keeps exp ≤ 1 and the sum ≥ 1.
  var lane_sum = 0.0;
  for (var i = lane; i < V; i += WORKGROUP_SIZE) {
    lane_sum += exp(logits[x + i] - max_logit);
  }
  let sum = subgroupAdd(lane_sum);
  let inverse_sum = 1.0 / sum;
  for (var i = lane; i < V; i += WORKGROUP_SIZE) {
    probs[x + i] = exp(logits[x + i] - max_logit) * inverse_sum;
  }
  if (lane == 0u) {
    losses[row] = log(sum) - (logits[x + targets[row]] - max_logit);
  }
}
