// fill: set a range of a float buffer to one value (zeroing gradients before a
// backward pass, since every backward kernel accumulates with +=).
// scale: multiply a range in place by a scalar (gradient clipping, averaging
// gradients over micro-batches).
//
// The range is [start, start + count) in elements, passed in the uniform
// rather than as a binding offset, so it may begin anywhere (binding offsets
// must be 256-byte aligned). One invocation per element; the grid folds into
// 2-D (workgroupGrid in src/gpu/runtime.ts) because a flat parameter buffer
// can need more than 65535 workgroups.
// Leaves out: vec4 loads (a range need not be 16-byte aligned).

override WORKGROUP_SIZE: u32; // set by src/kernels/fill.ts

struct Params {
  start: u32, // first element of the range
  count: u32, // elements in the range
  value: f32, // fill: the value; scale: the factor
}

@group(0) @binding(0) var<storage, read_write> data: array<f32>; // (any) the buffer holding the range
@group(0) @binding(1) var<uniform> params: Params;

fn linear_index(wid: vec3u, nwg: vec3u, lid: vec3u) -> u32 {
  return (wid.y * nwg.x + wid.x) * WORKGROUP_SIZE + lid.x;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn fill(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid);
  if (i >= params.count) { return; }
  data[params.start + i] = params.value;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn scale(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
         @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_index(wid, nwg, lid);
  if (i >= params.count) { return; }
  data[params.start + i] = data[params.start + i] * params.value;
}
