// The model as a safetensors file, the format PyTorch, JAX and Hugging Face
// tools load without running code (huggingface/safetensors, docs/format):
//
//   8 bytes   N, the header's length in bytes, unsigned 64-bit little-endian
//   N bytes   a JSON object: for every tensor {"dtype": "F32", "shape": [...],
//             "data_offsets": [begin, end]} (byte offsets into the data that
//             follows), and "__metadata__": string → string; padded with
//             spaces so the data starts 8-byte aligned
//   the data  every tensor's values, little-endian, row-major, back to back
//
// Written by hand: the format is the three lines above, and the npm packages
// for it are readers or pull in a tensor library. Our flat buffer's alignment
// padding is not written: each tensor is exactly its shape's values, under its
// layout name (wte, wpe, h.0.attn.qkv.weight, …, lnf.bias; weights (out, in),
// tied embeddings: there is no lm_head tensor, logits use wte).
// Leaves out: dtypes other than F32 (the model trains in float32).
import { buildLayout, tensorOf } from './layout.ts';
import type { GptConfig } from './config.ts';

export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** A safetensors file of float32 tensors, in the given order, with string metadata. */
export function encodeSafetensors(tensors: readonly NamedTensor[], metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new RangeError(`${t.name}: shape ${JSON.stringify(t.shape)} holds ${count} values, the data ${t.data.length}`);
    if (t.name === '__metadata__' || t.name in header) throw new RangeError(`tensor name ${t.name} is reserved or repeated`);
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * count] };
    offset += 4 * count;
  }
  let json = JSON.stringify(header);
  const encoder = new TextEncoder();
  const padding = (8 - (encoder.encode(json).length % 8)) % 8;
  json += ' '.repeat(padding);
  const headerBytes = encoder.encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const t of tensors) {
    for (let i = 0; i < t.data.length; i++, at += 4) view.setFloat32(at, t.data[i], true);
  }
  return out;
}

/** θ of a GPT as a safetensors file: every layout tensor, without the flat buffer's padding. */
export function gptSafetensors(config: GptConfig, params: Float32Array, metadata: Record<string, string> = {}): Uint8Array {
  const layout = buildLayout(config);
  if (params.length !== layout.size) throw new RangeError(`params have ${params.length} floats, the layout needs ${layout.size}`);
  return encodeSafetensors(
    layout.tensors.map((t) => ({ name: t.name, shape: t.shape, data: tensorOf(params, t) })),
    metadata,
  );
}
