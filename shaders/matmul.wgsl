// Matmul, forward and backward, llm.c convention:
//   matmul_forward:          out(BT, OC)  = inp(BT, C) · weight(OC, C)ᵀ + bias(OC)
//   matmul_backward_input:   dinp(BT, C) += dout(BT, OC) · weight(OC, C)
//   matmul_backward_weight:  dweight(OC, C) += dout(BT, OC)ᵀ · inp(BT, C)
//   matmul_backward_bias:    dbias(OC) += Σ_bt dout(bt, OC)
// All three products are one tiled kernel, C(M, N) = op(A)(M, K) · op(B)(K, N),
// differing only in which operand is stored transposed; the transposition is
// absorbed by the tile loads, so the inner loop is the same for all of them.
//
// Tiling (the classic shared-memory + register-blocking scheme, as in
// tfjs-backend-webgpu's matmul_packed and llm.c dev/cuda matmul kernels): a
// WG_X × WG_Y workgroup computes a TILE_M × TILE_N tile of C, TILE_M = WG_Y·ROWS
// and TILE_N = WG_X·4·COLS; each invocation owns a ROWS × 4·COLS block held in
// vec4 registers. Per K step of TILE_K, the workgroup stages a TILE_M × TILE_K
// slab of A and a TILE_K × TILE_N slab of B in workgroup memory, each
// invocation loading whole vec4s with coalesced reads (no partial-vector writes
// to workgroup memory). The shape is five override constants chosen by the
// host (src/kernels/matmul.ts MATMUL_TILES; the tile search keeps the fastest
// on each adapter). The default, 8×8 invocations with 8×8 blocks (64×64 tiles,
// TILE_K 16): 4 workgroup loads per k for 64 FMAs; measured against 16×16
// invocations with 4×4 blocks in one run on SwiftShader, 2.2× faster at 512³
// (fewer invocations per barrier, more FMAs per load).
// Bounds checks on the loads and stores make every shape correct (odd sizes,
// one row, tall-skinny).
// Every output element adds its K products in ascending k, one fma each, under
// every tile shape: results are bit-deterministic and the same for every tile.

struct Params {
  M: u32,        // rows of the result
  N: u32,        // columns of the result
  K: u32,        // reduction length
  has_bias: u32, // forward only: add bias(N)
}

// The tile, set by src/kernels/matmul.ts (ROWS ∈ {4, 8}, COLS ∈ {1, 2}; the
// host checks that the slabs split evenly over the invocations).
override WG_X: u32;   // invocations along N
override WG_Y: u32;   // invocations along M
override ROWS: u32;   // rows of C per invocation, a multiple of 4
override COLS: u32;   // vec4 columns of C per invocation
override TILE_K: u32; // reduction slab depth
override BIAS_WORKGROUP_SIZE: u32; // matmul_backward_bias: invocations per workgroup

override TILE_M: u32 = WG_Y * ROWS;
override TILE_N: u32 = WG_X * COLS * 4u;
override M_GROUPS: u32 = TILE_M / 4u; // vec4s per k row of the A slab
override N_GROUPS: u32 = TILE_N / 4u; // vec4s per k row of the B slab
override INVOCATIONS: u32 = WG_X * WG_Y;
override A_SLAB: u32 = TILE_K * M_GROUPS; // vec4s
override B_SLAB: u32 = TILE_K * N_GROUPS; // vec4s

@group(0) @binding(0) var<storage, read_write> result: array<f32>; // (M, N)
@group(0) @binding(1) var<storage, read> a: array<f32>;            // (M, K), or (K, M) when transposed
@group(0) @binding(2) var<storage, read> b: array<f32>;            // (K, N), or (N, K) when transposed
@group(0) @binding(3) var<storage, read> bias: array<f32>;         // (N); unused unless has_bias
@group(0) @binding(4) var<uniform> params: Params;

// a_tile[k][m / 4][m % 4], b_tile[k][n / 4][n % 4]: vec4 rows for the inner loop.
var<workgroup> a_tile: array<vec4<f32>, A_SLAB>; // TILE_K × TILE_M / 4
var<workgroup> b_tile: array<vec4<f32>, B_SLAB>; // TILE_K × TILE_N / 4

// The block of C owned by one invocation: acc[2·r + c] holds row r, columns
// 4c .. 4c+3 (r < ROWS ≤ 8, c < COLS ≤ 2; unused entries stay 0).
fn tile_product(a_transposed: bool, b_transposed: bool, wg: vec3<u32>, lid: vec3<u32>, lidx: u32) -> array<vec4<f32>, 16> {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let row0 = wg.y * TILE_M;
  let col0 = wg.x * TILE_N;
  var acc: array<vec4<f32>, 16>;
  for (var k0 = 0u; k0 < K; k0 += TILE_K) {
    // Neighbouring invocations read neighbouring addresses: along k when the
    // operand is stored with k fastest, along m (or n) otherwise.
    for (var idx = lidx; idx < A_SLAB; idx += INVOCATIONS) {
      var ka: u32; var mg: u32;
      if (a_transposed) { mg = idx % M_GROUPS; ka = idx / M_GROUPS; } else { ka = idx % TILE_K; mg = idx / TILE_K; }
      var va = vec4<f32>(0.0);
      let gka = k0 + ka;
      if (gka < K) {
        for (var i = 0u; i < 4u; i++) {
          let gm = row0 + mg * 4u + i;
          if (gm < M) {
            if (a_transposed) { va[i] = a[gka * M + gm]; } else { va[i] = a[gm * K + gka]; }
          }
        }
      }
      a_tile[ka * M_GROUPS + mg] = va;
    }
    for (var idx = lidx; idx < B_SLAB; idx += INVOCATIONS) {
      var kb: u32; var ng: u32;
      if (b_transposed) { kb = idx % TILE_K; ng = idx / TILE_K; } else { ng = idx % N_GROUPS; kb = idx / N_GROUPS; }
      var vb = vec4<f32>(0.0);
      let gkb = k0 + kb;
      if (gkb < K) {
        for (var j = 0u; j < 4u; j++) {
          let gn = col0 + ng * 4u + j;
          if (gn < N) {
            if (b_transposed) { vb[j] = b[gn * K + gkb]; } else { vb[j] = b[gkb * N + gn]; }
          }
        }
      }
      b_tile[kb * N_GROUPS + ng] = vb;
    }
    workgroupBarrier();
    // Written out for the largest block (8 rows × 2 vec4s) with constant
    // accumulator indices, the smaller blocks skipping statements under
    // conditions on override constants: a loop over ROWS and COLS indexing acc
    // dynamically measured 5–10× slower on SwiftShader, whose compiler then
    // keeps acc in memory instead of registers.
    for (var kk = 0u; kk < TILE_K; kk++) {
      let a_at = kk * M_GROUPS + lid.y * (ROWS / 4u);
      let b_at = kk * N_GROUPS + lid.x * COLS;
      let a0 = a_tile[a_at];
      let b0 = b_tile[b_at];
      acc[0] = fma(vec4<f32>(a0.x), b0, acc[0]);
      acc[2] = fma(vec4<f32>(a0.y), b0, acc[2]);
      acc[4] = fma(vec4<f32>(a0.z), b0, acc[4]);
      acc[6] = fma(vec4<f32>(a0.w), b0, acc[6]);
      if (COLS == 2u) {
        let b1 = b_tile[b_at + 1u];
        acc[1] = fma(vec4<f32>(a0.x), b1, acc[1]);
        acc[3] = fma(vec4<f32>(a0.y), b1, acc[3]);
        acc[5] = fma(vec4<f32>(a0.z), b1, acc[5]);
        acc[7] = fma(vec4<f32>(a0.w), b1, acc[7]);
      }
      if (ROWS == 8u) {
        let a1 = a_tile[a_at + 1u];
        acc[8] = fma(vec4<f32>(a1.x), b0, acc[8]);
        acc[10] = fma(vec4<f32>(a1.y), b0, acc[10]);
        acc[12] = fma(vec4<f32>(a1.z), b0, acc[12]);
        acc[14] = fma(vec4<f32>(a1.w), b0, acc[14]);
        if (COLS == 2u) {
          let b1 = b_tile[b_at + 1u];
          acc[9] = fma(vec4<f32>(a1.x), b1, acc[9]);
          acc[11] = fma(vec4<f32>(a1.y), b1, acc[11]);
          acc[13] = fma(vec4<f32>(a1.z), b1, acc[13]);
          acc[15] = fma(vec4<f32>(a1.w), b1, acc[15]);
        }
      }
    }
    workgroupBarrier();
  }
  return acc;
}

fn store_block(acc: array<vec4<f32>, 16>, wg: vec3<u32>, lid: vec3<u32>, accumulate: bool, add_bias: bool) {
  let M = params.M;
  let N = params.N;
  for (var i = 0u; i < ROWS; i++) {
    let row = wg.y * TILE_M + lid.y * ROWS + i;
    if (row >= M) { break; }
    for (var j = 0u; j < COLS * 4u; j++) {
      let col = wg.x * TILE_N + lid.x * COLS * 4u + j;
      if (col >= N) { break; }
      var v = acc[i * 2u + j / 4u][j % 4u];
      if (add_bias) { v += bias[col]; }
      let at = row * N + col;
      if (accumulate) { result[at] += v; } else { result[at] = v; }
    }
  }
}

// out(BT, OC) = inp(BT, C) · weight(OC, C)ᵀ + bias: M = BT, N = OC, K = C.
@compute @workgroup_size(WG_X, WG_Y)
fn matmul_forward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
                  @builtin(local_invocation_index) lidx: u32) {
  let acc = tile_product(false, true, wg, lid, lidx);
  store_block(acc, wg, lid, false, params.has_bias != 0u);
}

// dinp(BT, C) += dout(BT, OC) · weight(OC, C): M = BT, N = C, K = OC.
@compute @workgroup_size(WG_X, WG_Y)
fn matmul_backward_input(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
                         @builtin(local_invocation_index) lidx: u32) {
  let acc = tile_product(false, false, wg, lid, lidx);
  store_block(acc, wg, lid, true, false);
}

// dweight(OC, C) += dout(BT, OC)ᵀ · inp(BT, C): M = OC, N = C, K = BT.
@compute @workgroup_size(WG_X, WG_Y)
fn matmul_backward_weight(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
                          @builtin(local_invocation_index) lidx: u32) {
  let acc = tile_product(true, false, wg, lid, lidx);
  store_block(acc, wg, lid, true, false);
}

// dbias(OC) += Σ_bt dout(bt, OC): M = BT, N = OC. One invocation per column,
// rows in order (deterministic); neighbouring invocations read neighbouring
// columns, so every row read is coalesced.
@compute @workgroup_size(BIAS_WORKGROUP_SIZE)
fn matmul_backward_bias(@builtin(global_invocation_id) gid: vec3<u32>) {
  let col = gid.x;
  if (col >= params.N) { return; }
  var sum = 0.0;
  for (var row = 0u; row < params.M; row++) {
    sum += a[row * params.N + col];
  }
  result[col] += sum;
}
