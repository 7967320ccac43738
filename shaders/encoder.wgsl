// Token + position embedding (llm.c encoder_forward / encoder_backward):
//   out[b,t,:] = wte[inp[b,t], :] + wpe[t, :]
// Backward accumulates dwte[inp[b,t], :] += dout[b,t,:] and dwpe[t, :] += dout[b,t,:].
//
// Determinism without float atomics: encoder_backward runs one workgroup per
// output row. Workgroups [0, V) own one vocabulary row v each and scan all B*T
// tokens in (b, t) order, adding dout[b,t,:] where inp[b,t] == v; workgroups
// [V, V+T) own one position row t each and add dout[b,t,:] over b in order.
// Each output element is therefore summed by one invocation in a fixed order:
// the same bits on every run, and the same order as llm.c's CPU loop. The scan
// costs V·B·T token reads, fine for the byte-level vocabulary (V = 256); a
// large vocabulary would want a sort-by-token pass instead.
// Token ids are u32 and assumed < V (they come from our own byte data).

const ELEMENTWISE_WORKGROUP_SIZE = 256u;
const ROW_WORKGROUP_SIZE = 64u;

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

// ── forward ──────────────────────────────────────────────────────────────────
@group(0) @binding(0) var<storage, read_write> out: array<f32>; // (B, T, C)
@group(0) @binding(1) var<storage, read> tokens: array<u32>;    // (B, T)
@group(0) @binding(2) var<storage, read> wte: array<f32>;       // (V, C)
@group(0) @binding(3) var<storage, read> wpe: array<f32>;       // (maxT, C)
@group(0) @binding(4) var<uniform> forward_params: ForwardParams;

@compute @workgroup_size(ELEMENTWISE_WORKGROUP_SIZE)
fn encoder_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                   @builtin(local_invocation_id) lid: vec3u) {
  let i = (wid.y * nwg.x + wid.x) * ELEMENTWISE_WORKGROUP_SIZE + lid.x;
  let C = forward_params.C;
  if (i >= forward_params.B * forward_params.T * C) { return; }
  let bt = i / C;
  let c = i % C;
  let t = bt % forward_params.T;
  out[i] = wte[tokens[bt] * C + c] + wpe[t * C + c];
}

// ── backward ─────────────────────────────────────────────────────────────────
@group(0) @binding(0) var<storage, read_write> dwte: array<f32>;     // (V, C)
@group(0) @binding(1) var<storage, read_write> dwpe: array<f32>;     // (maxT, C)
@group(0) @binding(2) var<storage, read> dout: array<f32>;           // (B, T, C)
@group(0) @binding(3) var<storage, read> backward_tokens: array<u32>; // (B, T)
@group(0) @binding(4) var<uniform> backward_params: BackwardParams;

// Dispatch V + T workgroups (folded into 2-D when that exceeds 65535).
@compute @workgroup_size(ROW_WORKGROUP_SIZE)
fn encoder_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                    @builtin(local_invocation_id) lid: vec3u) {
  let row = wid.y * nwg.x + wid.x;
  let B = backward_params.B;
  let T = backward_params.T;
  let C = backward_params.C;
  let V = backward_params.V;
  if (row < V) {
    let v = row;
    for (var c = lid.x; c < C; c += ROW_WORKGROUP_SIZE) {
      var acc = dwte[v * C + c];
      for (var bt = 0u; bt < B * T; bt++) {
        if (backward_tokens[bt] == v) { acc += dout[bt * C + c]; }
      }
      dwte[v * C + c] = acc;
    }
  } else if (row < V + T) {
    let t = row - V;
    for (var c = lid.x; c < C; c += ROW_WORKGROUP_SIZE) {
      var acc = dwpe[t * C + c];
      for (var b = 0u; b < B; b++) {
        acc += dout[(b * T + t) * C + c];
      }
      dwpe[t * C + c] = acc;
    }
  }
}
