// One AdamW step over the flat parameter buffer (Loshchilov & Hutter 2019;
// port of gpt2_update / adamw_kernel in karpathy/llm.c), one invocation per
// parameter:
//   g = grads[i] · clip_scale                 (clip scale from grad_norm_final)
//   m = β1·m + (1−β1)·g;   v = β2·v + (1−β2)·g²
//   m̂ = m / (1−β1ᵗ);        v̂ = v / (1−β2ᵗ)
//   param −= lr · (m̂ / (√v̂ + eps) + weight_decay · decay(i) · param)
// The bias corrections 1−βᵗ arrive in the uniform, computed on the CPU per
// step, so changing the step (or lr) is one small uniform write.
//
// decay(i) is one bit of a packed mask, bit (i + mask_offset) of
// decay_mask[(i + mask_offset) / 32]: decay on matrices, not on biases or
// LayerNorm gains. One bit per parameter costs N/8 bytes, and neighbouring
// invocations share one u32 load. mask_offset lets the kernel run over a view
// of the parameter buffers (a binding offset is a multiple of 64 floats, which
// is not a whole number of 256-byte-aligned mask words).
//
// Workgroups are laid out 2-D (x · y ≥ ⌈N / WORKGROUP_SIZE⌉, x ≤ 65535) because
// one dimension holds at most 65535 workgroups, i.e. 16.7M parameters at 256.
//
// Leaves out: gradient accumulation scaling (fold it into the clip scale),
// AMSGrad, master weights in another precision (everything is f32).

struct Params {
  n: u32,                // parameters in this (view of the) buffer
  mask_offset: u32,      // bit index in decay_mask of this view's element 0
  lr: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  weight_decay: f32,
  bias_correction1: f32, // 1 − β1ᵗ
  bias_correction2: f32, // 1 − β2ᵗ
}

// Written by grad_norm_final in grad-norm.wgsl (same layout).
struct GradNormResult {
  norm: f32,
  clip_scale: f32,
}

override WORKGROUP_SIZE: u32; // invocations per workgroup, set by src/kernels/adamw.ts

@group(0) @binding(0) var<storage, read_write> parameters: array<f32>; // (N)
@group(0) @binding(1) var<storage, read> grads: array<f32>;            // (N); left untouched
@group(0) @binding(2) var<storage, read_write> m: array<f32>;          // (N) first moment
@group(0) @binding(3) var<storage, read_write> v: array<f32>;          // (N) second moment
@group(0) @binding(4) var<storage, read> decay_mask: array<u32>;       // (⌈(mask_offset + N) / 32⌉) bits
@group(0) @binding(5) var<storage, read> grad_norm: GradNormResult;    // 2 floats
@group(0) @binding(6) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP_SIZE)
fn adamw_update(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lane: u32,
) {
  let i = (wg.y * groups.x + wg.x) * WORKGROUP_SIZE + lane;
  // The 2-D grid is a rectangle, so its last row overshoots N.
  if (i >= params.n) {
    return;
  }
  let g = grads[i] * grad_norm.clip_scale;
  let m_new = params.beta1 * m[i] + (1.0 - params.beta1) * g;
  let v_new = params.beta2 * v[i] + (1.0 - params.beta2) * g * g;
  m[i] = m_new;
  v[i] = v_new;
  let m_hat = m_new / params.bias_correction1;
  let v_hat = v_new / params.bias_correction2;
  let bit = i + params.mask_offset;
  let decays = ((decay_mask[bit >> 5u] >> (bit & 31u)) & 1u) != 0u;
  let decay = select(0.0, params.weight_decay, decays);
  let p = parameters[i];
  parameters[i] = p - params.lr * (m_hat / (sqrt(v_hat) + params.eps) + decay * p);
}
