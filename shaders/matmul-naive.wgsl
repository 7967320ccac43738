// The deliberately naive matmul: one invocation per output element, a plain
// dot product over K straight from global memory. It stays in the tree as the
// baseline the tiled kernel (matmul.wgsl) is measured against.
//   out(BT, OC) = inp(BT, C) · weight(OC, C)ᵀ + bias(OC)

override WORKGROUP_SIDE: u32; // a WORKGROUP_SIDE² square of outputs per workgroup, set by src/kernels/matmul.ts

struct Params {
  M: u32,        // BT
  N: u32,        // OC
  K: u32,        // C
  has_bias: u32,
}

@group(0) @binding(0) var<storage, read_write> result: array<f32>; // (BT, OC)
@group(0) @binding(1) var<storage, read> inp: array<f32>;          // (BT, C)
@group(0) @binding(2) var<storage, read> weight: array<f32>;       // (OC, C)
@group(0) @binding(3) var<storage, read> bias: array<f32>;         // (OC)
@group(0) @binding(4) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP_SIDE, WORKGROUP_SIDE)
fn matmul_naive_forward(@builtin(global_invocation_id) gid: vec3<u32>) {
  let row = gid.y;
  let col = gid.x;
  if (row >= params.M || col >= params.N) { return; }
  var sum = 0.0;
  for (var k = 0u; k < params.K; k++) {
    sum += inp[row * params.K + k] * weight[col * params.K + k];
  }
  if (params.has_bias != 0u) { sum += bias[col]; }
  result[row * params.N + col] = sum;
}
