// SparseLoCo step 5 (SPEC §1): remove what was sent from the residual, using
// the dequantized values, so quantization error stays in e:
//   e[p] ← e[p] − table[tensor][code]   for every sent position p
// Twin of removeSent in src/compress/sparseloco.ts. One workgroup per chunk
// (the chunk table of top-k.wgsl); a chunk's positions are distinct, and
// chunks do not overlap, so every position is written by one invocation.
//
// The dequantized values arrive as a per-tensor table fround(L[b] + μ),
// computed on the host exactly as dequantize2bit does, so the only float
// operation here is the one subtraction the reference does too. Dense float32
// tensors (mode 1) send e itself, and e − e = 0.
//
// Leaves out: choosing what to send (top-k.wgsl) and the statistics (host).

struct Params {
  num_chunks: u32,   // chunks in the table
  index_offset: u32, // first word of the indices in `selection`
}

// Same layout as in top-k.wgsl.
struct Chunk {
  start: u32,
  length: u32,
  keep: u32,
  out: u32,
  base_index: u32,
  table: u32,
  mode: u32,
  pad: u32,
}

override WORKGROUP_SIZE: u32; // invocations per workgroup, set by src/kernels/sparseloco.ts

@group(0) @binding(0) var<storage, read_write> residual: array<f32>; // (P) e, updated in place
@group(0) @binding(1) var<storage, read> chunks: array<Chunk>;       // (chunks)
@group(0) @binding(2) var<storage, read> selection: array<u32>;      // top_k_chunks' result: tensor-relative indices at index_offset (N)
@group(0) @binding(3) var<storage, read> codes: array<u32>;          // (⌈N / 16⌉) 2-bit codes, code j in bits 2·(j mod 16) of word j / 16
@group(0) @binding(4) var<storage, read> tables: array<vec4<f32>>;   // (quantized tensors) fround(L[b] + μ), b = 0..3
@group(0) @binding(5) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP_SIZE)
fn remove_sent(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lane: u32,
) {
  let chunk_id = wg.y * groups.x + wg.x;
  if (chunk_id >= params.num_chunks) {
    return;
  }
  let chunk = chunks[chunk_id];
  let origin = chunk.start - chunk.base_index; // position of the tensor's element 0
  for (var m = lane; m < chunk.keep; m += WORKGROUP_SIZE) {
    let j = chunk.out + m;
    let position = origin + selection[params.index_offset + j];
    if (chunk.mode == 0u) {
      let code = (codes[j >> 4u] >> ((j & 15u) * 2u)) & 3u;
      residual[position] = residual[position] - tables[chunk.table][code];
    } else {
      residual[position] = 0.0;
    }
  }
}
