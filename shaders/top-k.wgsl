// SparseLoCo step 4a (SPEC §1.2): chunked top-k by magnitude, one workgroup at
// a time per chunk. Twin of topKChunks in src/compress/sparseloco.ts: a chunk keeps its
// `keep` values of largest |x|; at the threshold magnitude the lower positions
// win; the kept positions come out ascending (what the codec's gap coding wants).
//
// Algorithm: radix select on the float bits (Alabi et al., "Fast k-selection
// algorithms for graphics processing units", JEA 2012; the same digit-by-digit
// histogram walk as PyTorch's SortingRadixSelect.cuh). For a float32 x the key
// bits(x) & 0x7fffffff orders |x| exactly as u32 — denormals, ±0 (both key 0)
// and huge values included, and NaN/Inf above every finite value — so the
// selection uses no float arithmetic at all and cannot be changed by a device
// that flushes denormals. Three digits, 11 + 10 + 10 bits, most significant
// first (the first covers the whole exponent), find the key T of the keep-th
// largest magnitude: each round histograms the keys that match the digits so
// far (workgroup atomicAdd), then one lane walks down group sums, lane sums
// and bins to the bin holding the wanted key. The walk stops early when that
// bin is taken whole, which on real-valued data is usually after two digits.
// A last pass over contiguous per-lane segments counts keys > T and keys == T,
// forms per-lane prefix counts, and writes every key > T plus the first
// (keep − #above) keys == T in position order: exactly the reference's rule,
// and the output is sorted by position.
//
// Chosen over a bitonic sort (tfjs-backend-webgpu's top-k): a chunk of 4096
// (key, index) pairs does not fit 16 KiB of workgroup memory, and a bitonic
// sort of 4096 needs 78 compare-exchange rounds with a barrier each, against
// ~15 barriers per chunk here. Barriers are what a software adapter pays for
// most (measured on SwiftShader, nano's 47 chunks: 256 lanes with Hillis–Steele
// scans and 8-bit digits ~370 ms; this version with 64 lanes ~45 ms), which is
// also why a workgroup has 64 lanes and why the host may launch fewer
// workgroups than chunks (they stride over the chunks; the result is the same).
//
// Every count is an integer (atomicAdd/atomicMin on workgroup u32), so the
// result is the same on every run and device.
//
// The same pass checks the range the reference's checkResidual enforces: the
// chunk's first position whose key exceeds params.limit_key (the bits of the
// largest float32 ≤ maxAbsValue; NaN and ±Inf exceed it too) goes to
// status[chunk], or 0xffffffff when there is none; the host raises the typed error.
//
// Dense tensors (1-D under a dense policy) pass through the same kernel with
// keep = length: the walk is skipped (T = 0) and every value is copied out, so
// one readback returns everything the CPU quantizes.
//
// Leaves out: quantization (the host does it in float64 from the selected
// values, see src/compress/sparseloco-gpu.ts).

struct Params {
  num_chunks: u32,   // chunks in the table
  index_offset: u32, // first word of the indices in `result` (= num_chunks)
  value_offset: u32, // first word of the values in `result` (= num_chunks + N)
  limit_key: u32,    // bits of the largest float32 ≤ maxAbsValue
}

// One chunk of one tensor; built on the host (src/compress/sparseloco-gpu.ts).
struct Chunk {
  start: u32,      // position of the chunk's first value in the flat residual
  length: u32,     // values in the chunk, 1 … chunkSize
  keep: u32,       // values to select: chunkKeep(length), or length for a dense tensor
  out: u32,        // the chunk's first slot among the N selected values
  base_index: u32, // tensor-relative position of the chunk's first value
  table: u32,      // remove_sent: the tensor's dequantization table
  mode: u32,       // remove_sent: 0 subtract the dequantized value, 1 clear (dense float32)
  pad: u32,
}

const LANES: u32 = 64u;                   // invocations per workgroup; see the header
const GROUP: u32 = 8u;                    // lanes per group in the two-level counts
const GROUPS: u32 = LANES / GROUP;
const BINS: u32 = 2048u;                  // 11-bit digits
const BINS_PER_LANE: u32 = BINS / LANES;  // each lane sums its own run of bins
const NONE: u32 = 0xffffffffu;

@group(0) @binding(0) var<storage, read> residual: array<u32>;     // (P) float32 bits of e
@group(0) @binding(1) var<storage, read> chunks: array<Chunk>;     // (chunks)
@group(0) @binding(2) var<storage, read_write> result: array<u32>; // (chunks + 2N): status, indices, value bits
@group(0) @binding(3) var<uniform> params: Params;

var<workgroup> histogram: array<atomic<u32>, BINS>;
var<workgroup> lane_counts: array<vec2<u32>, LANES>;   // walk: (keys in the lane's bins, 0); selection: (above, ties)
var<workgroup> group_counts: array<vec2<u32>, GROUPS>; // the same summed over a group of lanes
var<workgroup> remaining: u32;                          // how many of the keys matching the digits so far to keep
var<workgroup> threshold: u32;                          // T, digit by digit
var<workgroup> finished: u32;                           // 1 once T is known
var<workgroup> first_bad: atomic<u32>;

fn magnitude_key(position: u32) -> u32 {
  return residual[position] & 0x7fffffffu;
}

// One chunk; every invocation of the workgroup calls it (it has barriers).
fn select_chunk(chunk_id: u32, lane: u32) {
  let chunk = chunks[chunk_id];
  if (lane == 0u) {
    remaining = chunk.keep;
    threshold = 0u;
    // Keeping everything needs no threshold: T = 0 selects every key.
    finished = select(0u, 1u, chunk.keep >= chunk.length);
    atomicStore(&first_bad, NONE);
  }

  // ── threshold: T = key of the keep-th largest magnitude, 11 + 10 + 10 bits ──
  var mask = 0u; // digits of T fixed so far
  for (var round = 0u; round < 3u; round++) {
    let shift = 20u - 10u * round;
    let digit_mask = select(0x3ffu, 0x7ffu, round == 0u);
    // Also publishes lane 0's writes (above, or the previous pass's walk).
    if (workgroupUniformLoad(&finished) != 0u) {
      break;
    }
    let digits = threshold;
    let wanted = remaining;
    for (var b = lane; b < BINS; b += LANES) {
      atomicStore(&histogram[b], 0u);
    }
    workgroupBarrier();
    for (var i = lane; i < chunk.length; i += LANES) {
      let key = magnitude_key(chunk.start + i);
      if ((key & mask) == digits) {
        atomicAdd(&histogram[(key >> shift) & digit_mask], 1u);
      }
    }
    workgroupBarrier();
    var own = 0u;
    for (var j = 0u; j < BINS_PER_LANE; j++) {
      own += atomicLoad(&histogram[lane * BINS_PER_LANE + j]);
    }
    lane_counts[lane] = vec2<u32>(own, 0u);
    workgroupBarrier();
    if (lane < GROUPS) {
      var sum = 0u;
      for (var j = 0u; j < GROUP; j++) {
        sum += lane_counts[lane * GROUP + j].x;
      }
      group_counts[lane] = vec2<u32>(sum, 0u);
    }
    workgroupBarrier();
    if (lane == 0u) {
      // Walk down from the largest bin to the one holding the wanted-th largest
      // matching key: groups, then lanes, then bins — at most GROUPS + GROUP + BINS_PER_LANE = 48 steps.
      var higher = 0u; // matching keys in the bins above the walk's position
      var g = GROUPS - 1u;
      for (; g > 0u && higher + group_counts[g].x < wanted; g--) {
        higher += group_counts[g].x;
      }
      var l = g * GROUP + GROUP - 1u;
      for (; l > g * GROUP && higher + lane_counts[l].x < wanted; l--) {
        higher += lane_counts[l].x;
      }
      var b = l * BINS_PER_LANE + BINS_PER_LANE - 1u;
      for (; b > l * BINS_PER_LANE && higher + atomicLoad(&histogram[b]) < wanted; b--) {
        higher += atomicLoad(&histogram[b]);
      }
      threshold = digits | (b << shift);
      remaining = wanted - higher;
      // The bin is taken whole: T = its smallest possible key still selects
      // exactly it (every key in it is ≥ T, and all keys == T are kept).
      finished = select(0u, 1u, atomicLoad(&histogram[b]) == wanted - higher);
    }
    mask |= digit_mask << shift;
  }
  let t = workgroupUniformLoad(&threshold);

  // ── selection, in position order ──
  let segment = (chunk.length + LANES - 1u) / LANES;
  let lo = min(lane * segment, chunk.length);
  let hi = min(lo + segment, chunk.length);
  var above = 0u;
  var ties = 0u;
  var bad = NONE;
  for (var i = lo; i < hi; i++) {
    let key = magnitude_key(chunk.start + i);
    if (key > t) {
      above++;
    } else if (key == t) {
      ties++;
    }
    if (key > params.limit_key && bad == NONE) {
      bad = i;
    }
  }
  if (bad != NONE) {
    atomicMin(&first_bad, bad);
  }
  lane_counts[lane] = vec2<u32>(above, ties);
  workgroupBarrier();
  if (lane < GROUPS) {
    var sum = vec2<u32>(0u);
    for (var j = 0u; j < GROUP; j++) {
      sum += lane_counts[lane * GROUP + j];
    }
    group_counts[lane] = sum;
  }
  workgroupBarrier();
  // Counts of the lanes before this one (their segments precede it), and of all.
  let my_group = lane / GROUP;
  var before = vec2<u32>(0u);
  var total = vec2<u32>(0u);
  for (var g = 0u; g < GROUPS; g++) {
    let counts = group_counts[g];
    total += counts;
    if (g < my_group) {
      before += counts;
    }
  }
  for (var j = my_group * GROUP; j < lane; j++) {
    before += lane_counts[j];
  }
  let ties_needed = chunk.keep - total.x;
  var slot = chunk.out + before.x + min(before.y, ties_needed);
  var tie_rank = before.y;
  for (var i = lo; i < hi; i++) {
    let bits = residual[chunk.start + i];
    let key = bits & 0x7fffffffu;
    var take = key > t;
    if (key == t) {
      take = tie_rank < ties_needed;
      tie_rank++;
    }
    if (take) {
      result[params.index_offset + slot] = chunk.base_index + i;
      result[params.value_offset + slot] = bits;
      slot++;
    }
  }
  if (lane == 0u) {
    // The barriers above ordered every lane's atomicMin before this load.
    result[chunk_id] = atomicLoad(&first_bad);
  }
}

@compute @workgroup_size(LANES)
fn top_k_chunks(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lane: u32,
) {
  // Workgroups stride over the chunks (2-D grid, ≤ 65535 per dimension); the
  // host picks how many (maxChunkWorkgroups in sparseloco-kernels-gpu.ts).
  let workgroups = groups.x * groups.y;
  for (var chunk_id = wg.y * groups.x + wg.x; chunk_id < params.num_chunks; chunk_id += workgroups) {
    // The previous chunk's last reads of workgroup memory happen before lane 0 resets it.
    workgroupBarrier();
    select_chunk(chunk_id, lane);
  }
}
