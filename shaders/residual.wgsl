// Residual connection (llm.c residual_forward / residual_backward):
//   out = inp1 + inp2;   backward: dinp1 += dout, dinp2 += dout.
// One invocation per element over N = B*T*C, grid folded into 2-D past 65535
// workgroups. Backward accumulates, like every backward in llm.c.
// Leaves out: vec4 loads (N need not be a multiple of 4) and in-place
// aliasing (WebGPU forbids binding one buffer range as two writable bindings).

override WORKGROUP_SIZE: u32; // set by src/kernels/residual.ts

struct Params {
  N: u32, // elements, B*T*C
}

fn linear_index(wid: vec3u, nwg: vec3u, lid: vec3u) -> u32 {
  return (wid.y * nwg.x + wid.x) * WORKGROUP_SIZE + lid.x;
}

// ── forward ──────────────────────────────────────────────────────────────────
@group(0) @binding(0) var<storage, read_write> out: array<f32>; // (N)
@group(0) @binding(1) var<storage, read> inp1: array<f32>;      // (N)
@group(0) @binding(2) var<storage, read> inp2: array<f32>;      // (N)
@group(0) @binding(3) var<uniform> params: Params; // shared by both entry points

@compute @workgroup_size(WORKGROUP_SIZE)
fn residual_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                    @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid);
  if (i >= params.N) { return; }
  out[i] = inp1[i] + inp2[i];
}

// ── backward ─────────────────────────────────────────────────────────────────
@group(0) @binding(0) var<storage, read_write> dinp1: array<f32>; // (N)
@group(0) @binding(1) var<storage, read_write> dinp2: array<f32>; // (N)
@group(0) @binding(2) var<storage, read> dout: array<f32>;        // (N)

@compute @workgroup_size(WORKGROUP_SIZE)
fn residual_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                     @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid);
  if (i >= params.N) { return; }
  let d = dout[i];
  dinp1[i] += d;
  dinp2[i] += d;
}
