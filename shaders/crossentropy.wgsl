// Softmax over the vocabulary fused with the cross-entropy loss, forward and
// backward (softmax_forward + crossentropy_forward and
// crossentropy_softmax_backward of karpathy/llm.c train_gpt2.c, without llm.c's
// padded vocabulary), plus the mean loss as one float for the trainer to read.
//   crossentropy_forward    one invocation per (b, t) row: max, Σ exp, probs, loss
//   crossentropy_backward   one invocation per dlogits element:
//                           dlogits += (probs − 1[i = y])·dlosses[b, t]
//   loss_mean               one workgroup: mean of losses (B, T) into one float
// The loss is log Σ exp(logits − max) − (logit[y] − max), not −log(probs[y]):
// it stays finite and accurate when probs[y] underflows (logits far apart).
// Every sum has one fixed order (index ascending per invocation; a fixed tree in
// loss_mean), so the same inputs give the same bits.
// Why one invocation per row rather than a workgroup reduction per row: V is 256
// (bytes), so a row is short work for one invocation, and on SwiftShader a
// workgroup with barriers is very expensive: at B=2 T=256 V=256 the forward took
// 1122 ms as one 256-wide workgroup per row with tree reductions, 6 ms as one
// invocation per row (the workgroup variant was measured during development
// and not kept). With the 'subgroups' feature, crossentropy-subgroups.wgsl
// replaces crossentropy_forward with one subgroup per row.
// Leaves out: label smoothing, ignored targets (every position has a target),
// bounds checks on targets (the data loader produces bytes < V = 256; an
// out-of-range target reads a clamped logit, WGSL's defined behaviour).

struct Params {
  rows: u32, // B·T
  V: u32,
}

// Both set by src/kernels/crossentropy.ts.
override WORKGROUP_SIZE: u32;      // crossentropy_forward, crossentropy_backward
override MEAN_WORKGROUP_SIZE: u32; // loss_mean; a power of two for its tree
const LOWEST: f32 = -0x1.fffffep+127f;

// crossentropy_forward
@group(0) @binding(0) var<storage, read_write> losses: array<f32>; // (B, T)
@group(0) @binding(1) var<storage, read_write> probs: array<f32>;  // (B, T, V)
@group(0) @binding(2) var<storage, read> logits: array<f32>;       // (B, T, V)
@group(0) @binding(3) var<storage, read> targets: array<u32>;      // (B, T); shared with backward
@group(0) @binding(4) var<uniform> params: Params;                 // shared with backward

// crossentropy_backward
@group(0) @binding(0) var<storage, read_write> dlogits: array<f32>; // (B, T, V)
// probs as the forward pass saved them; read-only here, hence its own name.
@group(0) @binding(1) var<storage, read> saved_probs: array<f32>;   // (B, T, V)
@group(0) @binding(2) var<storage, read> dlosses: array<f32>;       // (B, T); 1/(B·T) each for the mean loss

// loss_mean
struct MeanParams {
  count: u32, // B·T
}
@group(0) @binding(0) var<storage, read_write> mean_loss: array<f32>; // (1)
@group(0) @binding(1) var<storage, read> row_losses: array<f32>;      // (B, T)
@group(0) @binding(2) var<uniform> mean_params: MeanParams;

var<workgroup> partial: array<f32, MEAN_WORKGROUP_SIZE>;

// Large launches wrap into y (65535 workgroups per dimension), so the linear
// index is rebuilt from both; invocations past the end return.
fn linear_index(id: vec3<u32>, groups: vec3<u32>) -> u32 {
  return id.y * groups.x * WORKGROUP_SIZE + id.x;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn crossentropy_forward(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let row = linear_index(id, groups);
  if (row >= params.rows) {
    return;
  }
  let V = params.V;
  let x = row * V;
  var max_logit = LOWEST;
  for (var i = 0u; i < V; i++) {
    max_logit = max(max_logit, logits[x + i]);
  }
  // Subtracting the max keeps exp ≤ 1 and the sum ≥ 1.
  var sum = 0.0;
  for (var i = 0u; i < V; i++) {
    sum += exp(logits[x + i] - max_logit);
  }
  // Recomputing exp gives the same bits as above and spares a read-back of probs.
  let inverse_sum = 1.0 / sum;
  for (var i = 0u; i < V; i++) {
    probs[x + i] = exp(logits[x + i] - max_logit) * inverse_sum;
  }
  losses[row] = log(sum) - (logits[x + targets[row]] - max_logit);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn crossentropy_backward(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let n = linear_index(id, groups); // = row·V + i
  let V = params.V;
  if (n >= params.rows * V) {
    return;
  }
  let row = n / V;
  let indicator = select(0.0, 1.0, n % V == targets[row]);
  dlogits[n] += (saved_probs[n] - indicator) * dlosses[row];
}

// Dispatch (1): one workgroup, so the sum has one fixed order at any B·T.
// Each invocation sums a strided slice, then a halving tree adds the partials.
@compute @workgroup_size(MEAN_WORKGROUP_SIZE)
fn loss_mean(@builtin(local_invocation_index) lid: u32) {
  let count = mean_params.count;
  var sum = 0.0;
  for (var i = lid; i < count; i += MEAN_WORKGROUP_SIZE) {
    sum += row_losses[i];
  }
  partial[lid] = sum;
  workgroupBarrier();
  for (var stride = MEAN_WORKGROUP_SIZE / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      partial[lid] = partial[lid] + partial[lid + stride];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    mean_loss[0] = partial[0] / f32(count);
  }
}
