// The safetensors writer (src/model/safetensors.ts), read back by a parser
// written here from the format's specification alone (8-byte little-endian
// header length, JSON header, raw little-endian data): every tensor of the
// GPT's layout comes back with its name, shape and exactly its bits; the data
// starts 8-byte aligned, the padding between our tensors is not written, the
// metadata survives, and a shape that does not match its data is refused.
import { describe, expect, it } from 'vitest';
import { GPT_PRESETS } from '../../src/model/config.ts';
import { buildLayout, tensorOf } from '../../src/model/layout.ts';
import { mulberry32 } from '../../src/model/random.ts';
import { encodeSafetensors, gptSafetensors } from '../../src/model/safetensors.ts';

interface Entry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** An independent reader: the format as its README states it. */
function readSafetensors(file: Uint8Array): { header: Record<string, Entry>; metadata: Record<string, string>; dataStart: number; tensor(name: string): Uint32Array } {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const n = Number(view.getBigUint64(0, true));
  const parsed = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + n))) as Record<string, unknown>;
  const { __metadata__: metadata, ...header } = parsed;
  const dataStart = 8 + n;
  return {
    header: header as Record<string, Entry>,
    metadata: metadata as Record<string, string>,
    dataStart,
    tensor(name) {
      const [begin, end] = (header[name] as Entry).data_offsets;
      const bits = new Uint32Array((end - begin) / 4);
      for (let i = 0; i < bits.length; i++) bits[i] = view.getUint32(dataStart + begin + 4 * i, true);
      return bits;
    },
  };
}

describe('safetensors', () => {
  it('writes every GPT tensor with its name, shape and exact bits, aligned, without padding', () => {
    const config = GPT_PRESETS.nano;
    const layout = buildLayout(config);
    const random = mulberry32(7);
    const params = new Float32Array(layout.size);
    for (const t of layout.tensors) tensorOf(params, t).forEach((_, i, a) => (a[i] = (random() - 0.5) * 0.2));
    params[layout.tensors[0].offset] = -0; // a signed zero must keep its sign bit
    const file = gptSafetensors(config, params, { format: 'pt', version: '3' });
    const read = readSafetensors(file);
    expect(read.dataStart % 8).toBe(0);
    expect(read.metadata).toEqual({ format: 'pt', version: '3' });
    expect(Object.keys(read.header)).toEqual(layout.tensors.map((t) => t.name));
    let end = 0;
    for (const t of layout.tensors) {
      const entry = read.header[t.name];
      expect(entry.dtype).toBe('F32');
      expect(entry.shape).toEqual(t.shape);
      expect(entry.data_offsets[0]).toBe(end); // back to back: no padding between tensors
      end = entry.data_offsets[1];
      const expected = tensorOf(params, t);
      expect(read.tensor(t.name)).toEqual(new Uint32Array(expected.buffer.slice(expected.byteOffset, expected.byteOffset + expected.byteLength)));
    }
    expect(end).toBe(4 * layout.paramCount);
    expect(file.length).toBe(read.dataStart + end);
  });

  it('refuses a shape that does not match its data, and reserved or repeated names', () => {
    const data = new Float32Array(6);
    expect(() => encodeSafetensors([{ name: 'w', shape: [2, 2], data }])).toThrow(RangeError);
    expect(() => encodeSafetensors([{ name: '__metadata__', shape: [6], data }])).toThrow(RangeError);
    expect(() => encodeSafetensors([{ name: 'w', shape: [6], data }, { name: 'w', shape: [6], data }])).toThrow(RangeError);
    expect(() => gptSafetensors(GPT_PRESETS.nano, new Float32Array(10))).toThrow(RangeError);
  });
});
