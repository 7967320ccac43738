// SparseLoCo step 3 (SPEC §1): pseudo-gradient and error feedback in one pass
// over the flat parameter buffers, one invocation per float:
//   e ← β·e + (θ_global − θ_local)
// Twin of errorFeedback in src/compress/sparseloco.ts, which rounds every
// operation to float32; this kernel gives the same bits.
//
// Why the OR with params.zero: a compiler may contract `β·e + Δ` into one fused
// multiply-add (one rounding instead of the reference's two); SPIR-V without
// NoContraction and HLSL without `precise` allow it, and WGSL has no way to
// forbid it. Passing the product through an integer OR with a value known only
// at run time (always 0) forces it to be materialised as a rounded float32
// first; the cost is one integer op per element in a memory-bound kernel.
// (SwiftShader does not contract either way; this is for hardware drivers.)
//
// Workgroups are laid out 2-D (x · y ≥ ⌈P / WORKGROUP_SIZE⌉, x ≤ 65535), as in
// adamw.wgsl: one dimension holds at most 16.7M floats.
//
// Leaves out: denormal handling beyond what the device does (WGSL lets an
// implementation flush float32 denormals to zero; a residual of ~1e-38 is
// not one a training run produces, and tests/gpu/compress-sparseloco.test.ts
// reports what the adapter does).

struct Params {
  n: u32,    // P: floats in the flat buffers (padding included; it stays zero)
  beta: f32, // β, 0.95 by default
  zero: u32, // always 0; see the header
}

override WORKGROUP_SIZE: u32; // invocations per workgroup, set by src/kernels/sparseloco.ts

@group(0) @binding(0) var<storage, read_write> residual: array<f32>; // (P) e, updated in place
@group(0) @binding(1) var<storage, read> global_params: array<f32>;  // (P) θ at the start of the round
@group(0) @binding(2) var<storage, read> local_params: array<f32>;   // (P) θ after the inner steps
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP_SIZE)
fn error_feedback(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lane: u32,
) {
  let i = (wg.y * groups.x + wg.x) * WORKGROUP_SIZE + lane;
  // The 2-D grid is a rectangle, so its last row overshoots P.
  if (i >= params.n) {
    return;
  }
  let scaled = bitcast<f32>(bitcast<u32>(params.beta * residual[i]) | params.zero);
  let delta = global_params[i] - local_params[i];
  residual[i] = scaled + delta;
}
