// The shared model to take home (GET /api/model.json, .safetensors, .onnx)
// and the relay's text sample (GET /api/sample), from a relay whose model has
// moved past θ(0) (one round closed with a real signed update):
//   - the card parses, names this version and the hash the checkpoint has;
//   - the safetensors file, read by a parser written here from the format's
//     specification, holds every tensor of the layout bit for bit as
//     GET /api/checkpoint has it; the headers name version and hash, the ETag
//     answers 304;
//   - the ONNX file runs in onnxruntime-web (Node) and its logits match the
//     reference forward pass (src/model/gpt-reference.ts) on the checkpoint;
//   - the sample is SAMPLE_BYTES bytes for this version, the same text when
//     asked twice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-web';
import { createGptReference, gptForward } from '../../src/model/gpt-reference.ts';
import { tensorOf } from '../../src/model/layout.ts';
import { continuationBytes, parseModelCard, parseSampleBody, SAMPLE_BYTES } from '../../src/protocol/index.ts';
import type { RelayServer } from '../../src/relay/server.ts';
import { getBytes, getJson, NANO_LAYOUT, post, removeTempDirs, signedFrame, startTestRelay, tempDir, updatePayload, walletFor } from './relay-fixtures.ts';

let server: RelayServer;

beforeAll(async () => {
  server = await startTestRelay(tempDir('model-download'), { quorum: 1 });
  const { version, modelHash } = server.relay.roundStatus();
  const answer = await post(server.url, await signedFrame({ wallet: walletFor(0), round: 0, version, modelHash, payload: updatePayload(5) }));
  expect(answer.status).toBe(200);
  while (server.relay.roundStatus().version === 0) await new Promise((resolve) => setTimeout(resolve, 20));
});

afterAll(async () => {
  await server?.close();
  removeTempDirs();
});

/** The safetensors format as its README states it: 8-byte LE length, JSON header, raw LE data. */
function readSafetensors(file: Uint8Array): Map<string, { shape: number[]; bits: Uint32Array }> {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const n = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + n))) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const out = new Map<string, { shape: number[]; bits: Uint32Array }>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    expect(entry.dtype).toBe('F32');
    const [begin, end] = entry.data_offsets;
    const bits = new Uint32Array((end - begin) / 4);
    for (let i = 0; i < bits.length; i++) bits[i] = view.getUint32(8 + n + begin + 4 * i, true);
    out.set(name, { shape: entry.shape, bits });
  }
  return out;
}

async function checkpoint(): Promise<Float32Array> {
  const { bytes } = await getBytes(server.url, '/api/checkpoint');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

describe('model download', () => {
  it('serves a card for this version and a safetensors file equal to the checkpoint bit for bit', async () => {
    const status = server.relay.roundStatus();
    const card = parseModelCard(await getJson(server.url, '/api/model.json'));
    expect(card).toMatchObject({ architecture: 'tessera-gpt', preset: 'nano', version: status.version, modelHash: status.modelHash, parameterCount: NANO_LAYOUT.paramCount });
    expect(card.config).toMatchObject({ vocabSize: 256, nLayer: 2, tiedEmbeddings: true });

    const file = await getBytes(server.url, card.files.safetensors);
    expect(file.status).toBe(200);
    expect(file.headers.get('x-tessera-model-version')).toBe(String(status.version));
    expect(file.headers.get('etag')).toBe(`"${status.modelHash}"`);
    const tensors = readSafetensors(file.bytes);
    const params = await checkpoint();
    expect([...tensors.keys()]).toEqual(NANO_LAYOUT.tensors.map((t) => t.name));
    for (const view of NANO_LAYOUT.tensors) {
      const expected = tensorOf(params, view);
      expect(tensors.get(view.name)!.shape).toEqual(view.shape);
      expect(tensors.get(view.name)!.bits, view.name).toEqual(new Uint32Array(expected.buffer.slice(expected.byteOffset, expected.byteOffset + expected.byteLength)));
    }
    const again = await fetch(new URL(card.files.safetensors, server.url), { headers: { 'If-None-Match': `"${status.modelHash}"` } });
    expect(again.status).toBe(304);
  });

  it('serves an ONNX model whose logits match the reference forward pass on the checkpoint', async () => {
    const { bytes } = await getBytes(server.url, '/api/model.onnx');
    ort.env.wasm.numThreads = 1;
    const session = await ort.InferenceSession.create(bytes);
    const tokens = [84, 104, 101, 32, 99, 97, 116, 32, 115, 97, 116]; // "The cat sat"
    const { logits } = await session.run({ tokens: new ort.Tensor('int64', BigInt64Array.from(tokens, BigInt), [1, tokens.length]) });
    const reference = createGptReference(server.relay.config.model, await checkpoint());
    gptForward(reference, Int32Array.from(tokens), null, 1, tokens.length);
    const expected = reference.acts!.logits;
    const actual = logits.data as Float32Array;
    expect(actual.length).toBe(tokens.length * 256);
    let worst = 0;
    for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
    expect(worst).toBeLessThan(1e-4);
    await session.release();
  });

  it('writes one sample per model version, the same text for every reader', async () => {
    const [first, second] = await Promise.all([getJson(server.url, '/api/sample'), getJson(server.url, '/api/sample')]);
    const sample = parseSampleBody(first);
    expect(parseSampleBody(second)).toEqual(sample);
    expect(sample.version).toBe(server.relay.roundStatus().version);
    expect(sample.prompt).toBe('The ');
    expect(continuationBytes(sample.continuation).length).toBe(SAMPLE_BYTES);
  });
});
