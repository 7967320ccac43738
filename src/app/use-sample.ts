// Text samples from the model this tab's Worker trains standalone (a
// snapshot of its parameters), written by onnxruntime-web's wasm build,
// imported only when a sample is asked for — the dashboard and the demo
// screen load without it. (With a relay the relay writes the shared model's
// samples: relay-watcher.ts reads them.)
// Bytes that do not form printable characters show as "·" (readable-text.ts).
// Leaves out: the relay's samples of the shared model (relay-watcher.ts reads them).
import { useCallback, useEffect, useRef, useState } from 'react';
import { readableText } from './readable-text.ts';
import { trainingFeed } from './training-feed.ts';

export interface SampleState {
  status: 'idle' | 'working' | 'done' | 'error';
  text: string | null;
  /** Which model wrote it: "step 12". */
  origin: string | null;
  /** The training step it came from. */
  step: number | null;
  /** Share of its bytes that form printable characters. */
  readableShare: number | null;
  error: string | null;
}

export const DEFAULT_PROMPT = 'The ';

export function useSample(): [SampleState, (options?: { temperature?: number; maxNewBytes?: number }) => Promise<void>] {
  const [state, setState] = useState<SampleState>({ status: 'idle', text: null, origin: null, step: null, readableShare: null, error: null });
  const busy = useRef(false);
  const live = useRef(true);
  useEffect(() => {
    live.current = true;
    return () => {
      live.current = false;
    };
  }, []);
  const generate = useCallback(async (options: { temperature?: number; maxNewBytes?: number } = {}) => {
    if (busy.current) return;
    busy.current = true;
    setState((s) => ({ ...s, status: 'working', error: null }));
    try {
      const snapshot = await trainingFeed().snapshot();
      const [ort, { TextSampler }] = await Promise.all([import('onnxruntime-web/wasm'), import('../sample/text-sampler.ts')]);
      const sampler = await TextSampler.create(ort, snapshot.config, snapshot.params);
      try {
        const bytes = await sampler.generate(DEFAULT_PROMPT, { maxNewBytes: options.maxNewBytes ?? 120, temperature: options.temperature ?? 0.8, seed: snapshot.step });
        const written = readableText(bytes);
        if (live.current) setState({ status: 'done', text: DEFAULT_PROMPT + written.text, origin: `step ${snapshot.step}`, step: snapshot.step, readableShare: written.readableShare, error: null });
      } finally {
        await sampler.release();
      }
    } catch (error) {
      if (live.current) setState((s) => ({ ...s, status: 'error', error: (error as Error).message }));
    } finally {
      busy.current = false;
    }
  }, []);
  return [state, generate];
}
