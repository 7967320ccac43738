// Causal multi-head self-attention, forward and backward: attention_forward and
// attention_backward of karpathy/llm.c train_gpt2.c, on the same buffers.
//   inp (B, T, 3C): per (b, t) a row [q (C) | k (C) | v (C)]; head h owns
//   columns h·hs .. h·hs+hs−1 of each third, hs = C / NH, scale = 1/√hs.
//   preatt, att (B, NH, T, T): scores and their causal softmax, kept for backward
//   (llm.c style; at T ≤ 256 they are small, and backward needs att anyway).
//
//   attention_forward_scores    one invocation per (b, h, t) row: preatt, att
//   attention_forward_values    one invocation per out element (b, t, c): Σ att·v
//   attention_backward_scores   one invocation per (b, h, t) row:
//                               datt += v·dout; dpreatt += softmax backward
//   attention_backward_inputs   one invocation per dinp element (b, t, c of 3C):
//                               dq += scale·Σ_{t2≤t} dpreatt[t, t2]·k[t2]
//                               dk += scale·Σ_{t'≥t} dpreatt[t', t]·q[t']
//                               dv += Σ_{t'≥t} att[t', t]·dout[t']
// Every output belongs to one invocation, which sums in a fixed order (index
// ascending): no atomics, no workgroup memory, no barriers; the same inputs give
// the same bits. Invocations of one warp share (b, h) and read the same k/v/att
// entries at the same time, so those reads broadcast.
// Why no workgroup reductions: the layout follows version 1 of llm.c's
// dev/cuda/attention_forward.cu (one thread per softmax row, serial loops),
// chosen after measuring on SwiftShader, where a workgroup that uses barriers
// is expensive. One workgroup per row with tree reductions (the variant
// measured during development, not kept) against these kernels, same run:
//   B=1 T=128 C=64 NH=4    forward 105 → 8.5 ms   backward 212 → 17 ms
//   B=2 T=256 C=128 NH=4   forward 1431 → 314 ms  backward 1911 → 978 ms
// Not measured on a real GPU; at T ≤ 256 and hs ≤ 64 an invocation does at most
// 256·64 multiply-adds, and every launch has ≥ B·NH·T invocations.
// Masked entries (t2 > t) of preatt and att are written as 0, as the reference
// twin does; backward never reads or writes them.
// Leaves out: dropout, non-causal attention, a fused (flash-style) forward that
// would not store preatt/att.

struct Params {
  B: u32,
  T: u32,
  C: u32,
  NH: u32,
}

override WORKGROUP_SIZE: u32; // set by src/kernels/attention.ts
const LOWEST: f32 = -0x1.fffffep+127f; // start of a max; scores are finite

// forward
@group(0) @binding(0) var<storage, read_write> out: array<f32>;    // (B, T, C)
@group(0) @binding(1) var<storage, read_write> preatt: array<f32>; // (B, NH, T, T)
@group(0) @binding(2) var<storage, read_write> att: array<f32>;    // (B, NH, T, T)
@group(0) @binding(3) var<storage, read> inp: array<f32>;          // (B, T, 3C); shared with backward
@group(0) @binding(4) var<uniform> params: Params;                 // shared with backward

// backward (one binding list for both entry points)
@group(0) @binding(0) var<storage, read_write> dinp: array<f32>;    // (B, T, 3C)
@group(0) @binding(1) var<storage, read_write> dpreatt: array<f32>; // (B, NH, T, T)
@group(0) @binding(2) var<storage, read_write> datt: array<f32>;    // (B, NH, T, T)
@group(0) @binding(5) var<storage, read> dout: array<f32>;          // (B, T, C)
// att as the forward pass saved it; read-only here, hence its own name.
@group(0) @binding(6) var<storage, read> saved_att: array<f32>;     // (B, NH, T, T)

// Large launches wrap into y (65535 workgroups per dimension), so the linear
// index is rebuilt from both; invocations past the end return.
fn linear_index(id: vec3<u32>, groups: vec3<u32>) -> u32 {
  return id.y * groups.x * WORKGROUP_SIZE + id.x;
}

// Dispatch over B·NH·T rows; row r = (b·NH + h)·T + t.
@compute @workgroup_size(WORKGROUP_SIZE)
fn attention_forward_scores(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let T = params.T;
  let C = params.C;
  let NH = params.NH;
  let r = linear_index(id, groups);
  if (r >= params.B * NH * T) {
    return;
  }
  let hs = C / NH;
  let C3 = 3u * C;
  let t = r % T;
  let bh = r / T;
  let b = bh / NH;
  let h = bh % NH;
  let scale = 1.0 / sqrt(f32(hs));
  let q_at = (b * T + t) * C3 + h * hs;
  let k_at = b * T * C3 + C + h * hs; // + t2·3C
  let row_at = r * T;

  var max_score = LOWEST;
  for (var t2 = 0u; t2 <= t; t2++) {
    var dot = 0.0;
    for (var i = 0u; i < hs; i++) {
      dot += inp[q_at + i] * inp[k_at + t2 * C3 + i];
    }
    let score = dot * scale;
    preatt[row_at + t2] = score;
    max_score = max(max_score, score);
  }
  // Subtracting the max keeps exp ≤ 1; the max itself contributes exp(0) = 1,
  // so the sum is ≥ 1 and its inverse finite.
  var sum = 0.0;
  for (var t2 = 0u; t2 <= t; t2++) {
    let e = exp(preatt[row_at + t2] - max_score);
    att[row_at + t2] = e;
    sum += e;
  }
  let inverse_sum = 1.0 / sum;
  for (var t2 = 0u; t2 <= t; t2++) {
    att[row_at + t2] = att[row_at + t2] * inverse_sum;
  }
  for (var t2 = t + 1u; t2 < T; t2++) {
    preatt[row_at + t2] = 0.0;
    att[row_at + t2] = 0.0;
  }
}

// Dispatch over B·T·C outputs, after attention_forward_scores.
@compute @workgroup_size(WORKGROUP_SIZE)
fn attention_forward_values(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let T = params.T;
  let C = params.C;
  let NH = params.NH;
  let n = linear_index(id, groups); // = (b·T + t)·C + c
  if (n >= params.B * T * C) {
    return;
  }
  let hs = C / NH;
  let C3 = 3u * C;
  let c = n % C;
  let bt = n / C;
  let t = bt % T;
  let b = bt / T;
  let h = c / hs;
  let row_at = ((b * NH + h) * T + t) * T;
  let v_at = b * T * C3 + 2u * C + c; // + t2·3C
  var sum = 0.0;
  for (var t2 = 0u; t2 <= t; t2++) {
    sum += att[row_at + t2] * inp[v_at + t2 * C3];
  }
  out[n] = sum;
}

// Dispatch over B·NH·T rows, first of the two backward dispatches.
@compute @workgroup_size(WORKGROUP_SIZE)
fn attention_backward_scores(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let T = params.T;
  let C = params.C;
  let NH = params.NH;
  let r = linear_index(id, groups);
  if (r >= params.B * NH * T) {
    return;
  }
  let hs = C / NH;
  let C3 = 3u * C;
  let t = r % T;
  let bh = r / T;
  let b = bh / NH;
  let h = bh % NH;
  let dout_at = (b * T + t) * C + h * hs;
  let v_at = b * T * C3 + 2u * C + h * hs; // + t2·3C
  let row_at = r * T;

  // out = Σ att·v  ⇒  datt[t2] += v[t2]·dout[t]. The softmax backward uses the
  // accumulated datt, as llm.c and the reference do.
  var att_dot_datt = 0.0;
  for (var t2 = 0u; t2 <= t; t2++) {
    var dot = 0.0;
    for (var i = 0u; i < hs; i++) {
      dot += inp[v_at + t2 * C3 + i] * dout[dout_at + i];
    }
    let d = datt[row_at + t2] + dot;
    datt[row_at + t2] = d;
    att_dot_datt += saved_att[row_at + t2] * d;
  }
  // Softmax backward in its O(T) form: dpre[t2] = att[t2]·(datt[t2] − Σ att·datt).
  for (var t2 = 0u; t2 <= t; t2++) {
    dpreatt[row_at + t2] += saved_att[row_at + t2] * (datt[row_at + t2] - att_dot_datt);
  }
}

// Dispatch over B·T·3C gradients, after attention_backward_scores.
@compute @workgroup_size(WORKGROUP_SIZE)
fn attention_backward_inputs(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let T = params.T;
  let C = params.C;
  let NH = params.NH;
  let C3 = 3u * C;
  let n = linear_index(id, groups); // = (b·T + t)·3C + part·C + c
  if (n >= params.B * T * C3) {
    return;
  }
  let hs = C / NH;
  let scale = 1.0 / sqrt(f32(hs));
  let c3 = n % C3;
  let bt = n / C3;
  let t = bt % T;
  let b = bt / T;
  let part = c3 / C; // 0: q, 1: k, 2: v
  let c = c3 % C;
  let h = c / hs;
  let head_at = (b * NH + h) * T * T; // (b, h) block of att / dpreatt
  let column_at = b * T * C3 + c;      // channel c of row 0; + t'·3C (+ C for k)
  var sum = 0.0;
  if (part == 0u) {
    // preatt[t, t2] = q[t]·k[t2]·scale, over the keys t sees
    for (var t2 = 0u; t2 <= t; t2++) {
      sum += dpreatt[head_at + t * T + t2] * inp[column_at + t2 * C3 + C];
    }
    dinp[n] += sum * scale;
  } else if (part == 1u) {
    // k[t] meets every query t' ≥ t
    for (var tq = t; tq < T; tq++) {
      sum += dpreatt[head_at + tq * T + t] * inp[column_at + tq * C3];
    }
    dinp[n] += sum * scale;
  } else {
    // v[t] is weighted by att[t', t] in every out[t'] with t' ≥ t
    for (var tq = t; tq < T; tq++) {
      sum += saved_att[head_at + tq * T + t] * dout[(b * T + tq) * C + c];
    }
    dinp[n] += sum;
  }
}
