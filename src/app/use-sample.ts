// Text samples from the model the Worker is training: ask the Worker for its
// parameters, build the ONNX graph, and let onnxruntime-web (wasm) write.
// onnxruntime-web is imported lazily, so the dashboard loads without it.
import { useCallback, useEffect, useRef, useState } from 'react';
import { trainingStore } from './training-store.ts';

export interface SampleState {
  status: 'idle' | 'working' | 'done' | 'error';
  text: string | null;
  step: number | null; // training step of the parameters it came from
  error: string | null;
}

export const DEFAULT_PROMPT = 'The ';

export function useSample(): [SampleState, (options?: { temperature?: number; maxNewBytes?: number }) => Promise<void>] {
  const [state, setState] = useState<SampleState>({ status: 'idle', text: null, step: null, error: null });
  const busy = useRef(false);
  const live = useRef(true);
  useEffect(
    () => () => {
      live.current = false;
    },
    [],
  );
  const generate = useCallback(async (options: { temperature?: number; maxNewBytes?: number } = {}) => {
    if (busy.current) return;
    busy.current = true;
    setState((s) => ({ ...s, status: 'working', error: null }));
    try {
      const snapshot = await trainingStore().snapshot();
      const { TextSampler } = await import('../sample/text-sampler.ts');
      const sampler = await TextSampler.create(snapshot.config, snapshot.params);
      try {
        const text = await sampler.generate(DEFAULT_PROMPT, { maxNewBytes: options.maxNewBytes ?? 120, temperature: options.temperature ?? 0.8, seed: snapshot.step });
        if (live.current) setState({ status: 'done', text: DEFAULT_PROMPT + text, step: snapshot.step, error: null });
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
