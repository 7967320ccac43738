// GELU, tanh approximation (llm.c gelu_forward / gelu_backward, as in GPT-2):
//   gelu(x) = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
// Backward accumulates dinp += gelu'(x)·dout.
// One invocation per element over N = B*T*4C, grid folded into 2-D.
//
// Numerics: some WGSL backends lower tanh/cosh through exp and return NaN or
// inf for large arguments. tanh is taken of an argument clamped to ±10 (tanh
// is exactly ±1 in f32 beyond |u| ≈ 9.01, so the clamp changes nothing), and
// sech² is written as 4e/(1+e)² with e = exp(-2|u|), which never overflows.
// Leaves out: the exact erf GELU.

override WORKGROUP_SIZE: u32; // set by src/kernels/gelu.ts
const GELU_SCALING_FACTOR = 0.7978845608028654; // √(2/π)

struct Params {
  N: u32, // elements
}

// Both entry points read the forward input x through binding 1.
@group(0) @binding(1) var<storage, read> inp: array<f32>; // (N)

fn linear_index(wid: vec3u, nwg: vec3u, lid: vec3u) -> u32 {
  return (wid.y * nwg.x + wid.x) * WORKGROUP_SIZE + lid.x;
}

// ── forward ──────────────────────────────────────────────────────────────────
@group(0) @binding(0) var<storage, read_write> out: array<f32>; // (N)
@group(0) @binding(2) var<uniform> forward_params: Params;

@compute @workgroup_size(WORKGROUP_SIZE)
fn gelu_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid);
  if (i >= forward_params.N) { return; }
  let x = inp[i];
  let u = GELU_SCALING_FACTOR * (x + 0.044715 * x * x * x);
  out[i] = 0.5 * x * (1.0 + tanh(clamp(u, -10.0, 10.0)));
}

// ── backward ─────────────────────────────────────────────────────────────────
@group(0) @binding(0) var<storage, read_write> dinp: array<f32>; // (N)
@group(0) @binding(2) var<storage, read> dout: array<f32>;       // (N)
@group(0) @binding(3) var<uniform> backward_params: Params;

@compute @workgroup_size(WORKGROUP_SIZE)
fn gelu_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                 @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid);
  if (i >= backward_params.N) { return; }
  let x = inp[i];
  let u = GELU_SCALING_FACTOR * (x + 0.044715 * x * x * x);
  let tanh_u = tanh(clamp(u, -10.0, 10.0));
  let e = exp(-2.0 * abs(u));
  let sech2_u = 4.0 * e / ((1.0 + e) * (1.0 + e));
  let local_grad = 0.5 * (1.0 + tanh_u)
                 + x * 0.5 * sech2_u * GELU_SCALING_FACTOR * (1.0 + 3.0 * 0.044715 * x * x);
  dinp[i] += local_grad * dout[i];
}
