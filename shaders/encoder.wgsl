// Token + position embedding (llm.c encoder_forward / encoder_backward):
//   out[b,t,:] = wte[inp[b,t], :] + wpe[t, :]
// Backward accumulates dwte[inp[b,t], :] += dout[b,t,:] and dwpe[t, :] += dout[b,t,:].
//
// Determinism without float atomics: encoder_backward gives every output
// element to one invocation, which adds its terms in (b, t) order — the order
// of llm.c's CPU loop and of the reference twin, so the bits match it exactly.
// An invocation of dwte row v reads only the positions holding token v, from a
// bucket list the host builds with a stable counting sort of the batch
// (tokenBuckets in src/kernels/encoder.ts, O(B·T + V), written with the
// batch): buckets[v] .. buckets[v + 1] index the positions of token v, in
// ascending order, stored after the V + 1 offsets. Total work is (V + T)·C
// invocations and B·T·C + T·B·C reads of dout. (The first version had one
// workgroup per vocabulary row scan all B·T tokens for every column: V·B·T·C
// token reads, 13% of a nano step on SwiftShader; see docs/results.md.)
// Neighbouring invocations own neighbouring columns of a row, so reads of
// dout are coalesced.
// Token ids are u32 and < V (tokenBuckets checks that on the host).

override WORKGROUP_SIZE: u32; // set by src/kernels/encoder.ts

struct ForwardParams {
  B: u32,
  T: u32,
  C: u32,
}

struct BackwardParams {
  B: u32,
  T: u32,
  C: u32,
  V: u32,
}

fn linear_index(wid: vec3u, nwg: vec3u, lid: vec3u) -> u32 {
  return (wid.y * nwg.x + wid.x) * WORKGROUP_SIZE + lid.x;
}

// ── forward ──────────────────────────────────────────────────────────────────
@group(0) @binding(0) var<storage, read_write> out: array<f32>; // (B, T, C)
@group(0) @binding(1) var<storage, read> tokens: array<u32>;    // (B, T)
@group(0) @binding(2) var<storage, read> wte: array<f32>;       // (V, C)
@group(0) @binding(3) var<storage, read> wpe: array<f32>;       // (maxT, C)
@group(0) @binding(4) var<uniform> forward_params: ForwardParams;

@compute @workgroup_size(WORKGROUP_SIZE)
fn encoder_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                   @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid);
  let C = forward_params.C;
  if (i >= forward_params.B * forward_params.T * C) { return; }
  let bt = i / C;
  let c = i % C;
  let t = bt % forward_params.T;
  out[i] = wte[tokens[bt] * C + c] + wpe[t * C + c];
}

// ── backward ─────────────────────────────────────────────────────────────────
@group(0) @binding(0) var<storage, read_write> dwte: array<f32>;  // (V, C)
@group(0) @binding(1) var<storage, read_write> dwpe: array<f32>;  // (maxT, C)
@group(0) @binding(2) var<storage, read> dout: array<f32>;        // (B, T, C)
@group(0) @binding(3) var<storage, read> buckets: array<u32>;     // (V + 1 + B·T): offsets, then positions by token
@group(0) @binding(4) var<uniform> backward_params: BackwardParams;

// One invocation per element of dwte (V·C of them), then of dwpe rows t < T (T·C).
@compute @workgroup_size(WORKGROUP_SIZE)
fn encoder_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                    @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid);
  let B = backward_params.B;
  let T = backward_params.T;
  let C = backward_params.C;
  let V = backward_params.V;
  if (i < V * C) {
    let v = i / C;
    let c = i % C;
    var acc = dwte[i];
    // Positions are stored after the V + 1 offsets.
    for (var k = buckets[v]; k < buckets[v + 1u]; k++) {
      acc += dout[buckets[V + 1u + k] * C + c];
    }
    dwte[i] = acc;
  } else if (i < (V + T) * C) {
    let j = i - V * C;
    let t = j / C;
    let c = j % C;
    var acc = dwpe[j];
    for (var b = 0u; b < B; b++) {
      acc += dout[(b * T + t) * C + c];
    }
    dwpe[j] = acc;
  }
}
