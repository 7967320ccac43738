// Text samples, written by onnxruntime-web (wasm) from one of two models:
//   relay   the swarm's current global model θ(v), downloaded from the relay
//           (GET /api/checkpoint, hash-checked) — what the dashboard and the
//           demo screen show when a relay served the page, training or not;
//   worker  the model this tab's Worker trains standalone (a snapshot).
// onnxruntime-web is imported lazily, so the dashboard loads without it.
import { useCallback, useEffect, useRef, useState } from 'react';
import type { GptConfig } from '../model/config.ts';
import { gptConfigOf } from '../protocol/run-spec.ts';
import { relayWatcher } from './relay-watcher.ts';
import { trainingFeed } from './training-feed.ts';

export interface SampleState {
  status: 'idle' | 'working' | 'done' | 'error';
  text: string | null;
  /** Which model wrote it: "step 12" (standalone) or "global model v3" (relay). */
  origin: string | null;
  /** The model version (relay) or training step (standalone) it came from. */
  step: number | null;
  error: string | null;
}

export const DEFAULT_PROMPT = 'The ';

export type SampleSource = 'relay' | 'worker';

async function modelFor(source: SampleSource): Promise<{ config: GptConfig; params: Float32Array; step: number; origin: string }> {
  if (source === 'relay') {
    const relay = relayWatcher();
    const run = relay.getSnapshot().run;
    if (!run) throw new Error('the relay has not described its run yet');
    const checkpoint = await relay.client.checkpoint();
    return { config: gptConfigOf(run.swarm), params: checkpoint.params, step: checkpoint.version, origin: `global model v${checkpoint.version}` };
  }
  const snapshot = await trainingFeed().snapshot();
  return { config: snapshot.config, params: snapshot.params, step: snapshot.step, origin: `step ${snapshot.step}` };
}

export function useSample(source: SampleSource): [SampleState, (options?: { temperature?: number; maxNewBytes?: number }) => Promise<void>] {
  const [state, setState] = useState<SampleState>({ status: 'idle', text: null, origin: null, step: null, error: null });
  const busy = useRef(false);
  const live = useRef(true);
  useEffect(() => {
    live.current = true;
    return () => {
      live.current = false;
    };
  }, []);
  const generate = useCallback(
    async (options: { temperature?: number; maxNewBytes?: number } = {}) => {
      if (busy.current) return;
      busy.current = true;
      setState((s) => ({ ...s, status: 'working', error: null }));
      try {
        const model = await modelFor(source);
        const { TextSampler } = await import('../sample/text-sampler.ts');
        const sampler = await TextSampler.create(model.config, model.params);
        try {
          const text = await sampler.generate(DEFAULT_PROMPT, { maxNewBytes: options.maxNewBytes ?? 120, temperature: options.temperature ?? 0.8, seed: model.step });
          if (live.current) setState({ status: 'done', text: DEFAULT_PROMPT + text, origin: model.origin, step: model.step, error: null });
        } finally {
          await sampler.release();
        }
      } catch (error) {
        if (live.current) setState((s) => ({ ...s, status: 'error', error: (error as Error).message }));
      } finally {
        busy.current = false;
      }
    },
    [source],
  );
  return [state, generate];
}
