// A text sample from the current model, on request: readable evidence that
// training works (gibberish at first, then word shapes, then words).
import { useState } from 'react';
import { useTraining } from './training-store.ts';
import { useSample } from './use-sample.ts';

export function SamplePanel() {
  const view = useTraining();
  const [sample, generate] = useSample();
  const [temperature, setTemperature] = useState(0.8);
  const hasModel = view.ready !== null && (view.state === 'training' || view.state === 'paused');
  return (
    <section className="panel" aria-labelledby="sample-heading" data-testid="sample-panel" data-status={sample.status}>
      <h2 id="sample-heading">What the model writes</h2>
      <div className="controls">
        <button type="button" onClick={() => void generate({ temperature })} disabled={!hasModel || sample.status === 'working'} data-testid="generate-sample">
          Generate a sample
        </button>
        <label>
          Temperature{' '}
          <select value={temperature} onChange={(e) => setTemperature(Number(e.target.value))}>
            <option value={0}>0 (greedy)</option>
            <option value={0.5}>0.5</option>
            <option value={0.8}>0.8</option>
            <option value={1}>1.0</option>
          </select>
        </label>
      </div>
      {!hasModel && <p className="muted">Start training to see what the model writes.</p>}
      {sample.status === 'working' && <p role="status">Writing with onnxruntime-web…</p>}
      {sample.text !== null && (
        <blockquote className="sample" data-testid="sample-text">
          {sample.text}
          <footer className="muted small">after step {sample.step}</footer>
        </blockquote>
      )}
      {sample.error && (
        <p role="alert" className="problem">
          Could not write a sample: {sample.error}
        </p>
      )}
    </section>
  );
}
