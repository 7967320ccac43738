// A text sample on request: readable evidence that training works (gibberish
// at first, then word shapes, then words). With a relay it comes from the
// swarm's current global model; standalone, from this tab's own model.
import { useState } from 'react';
import { useRelay } from './relay-watcher.ts';
import { useTraining } from './training-feed.ts';
import { useSample } from './use-sample.ts';

export function SamplePanel() {
  const view = useTraining();
  const relay = useRelay();
  const fromRelay = relay.status === 'connected';
  const [sample, generate] = useSample(fromRelay ? 'relay' : 'worker');
  const [temperature, setTemperature] = useState(0.8);
  const hasModel = fromRelay ? relay.run !== null : view.ready !== null && (view.state === 'training' || view.state === 'paused');
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
      {fromRelay && <p className="muted small">Written by the swarm's current global model, downloaded from the relay.</p>}
      {!hasModel && <p className="muted">Start training to see what the model writes.</p>}
      {sample.status === 'working' && <p role="status">Writing with onnxruntime-web…</p>}
      {sample.text !== null && (
        <blockquote className="sample" data-testid="sample-text" data-origin={sample.origin ?? ''}>
          {sample.text}
          <footer className="muted small">{sample.origin}</footer>
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
