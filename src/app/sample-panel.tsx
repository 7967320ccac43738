// "What the model writes": readable evidence that training works (gibberish
// at first, then word shapes, then words). With a relay it is the shared
// model's own sample, written by the relay once per model version (GET
// /api/sample), so this page downloads no inference engine for it; standalone
// the page writes one on request from this tab's model with onnxruntime-web
// (loaded only then). Bytes that do not form printable characters show as
// "·" (readable-text.ts), never as replacement characters.
// Leaves out: sampling itself (the relay's sample-writer.ts, use-sample.ts).
import { useState } from 'react';
import { continuationBytes } from '../protocol/index.ts';
import { readableText } from './readable-text.ts';
import { useRelay } from './relay-watcher.ts';
import { useTraining } from './training-feed.ts';
import { useSample } from './use-sample.ts';

export function SamplePanel() {
  const relay = useRelay();
  return (
    <div className="sample-panel" data-testid="sample-panel">
      <h3>What the model writes</h3>
      {relay.status === 'connected' ? <SharedModelSample /> : <TabModelSample />}
    </div>
  );
}

function SharedModelSample() {
  const { sample } = useRelay();
  if (!sample) return <p className="muted">The relay writes a sample with every new version of the shared model; waiting for one…</p>;
  const written = readableText(continuationBytes(sample.continuation));
  return (
    <>
      <blockquote className="sample" data-testid="sample-text" data-origin={`shared model v${sample.version}`} data-readable={written.readableShare}>
        {sample.prompt}
        {written.text}
      </blockquote>
      <p className="muted small">
        Version {sample.version} of the shared model, continuing "{sample.prompt.trim()}" at temperature {sample.temperature}; {Math.round(written.readableShare * 100)} % of
        its bytes form readable characters ("·" marks the others).
      </p>
    </>
  );
}

function TabModelSample() {
  const view = useTraining();
  const [sample, generate] = useSample();
  const [temperature, setTemperature] = useState(0.8);
  const hasModel = view.ready !== null && (view.state === 'training' || view.state === 'paused');
  return (
    <>
      <div className="controls">
        <button type="button" onClick={() => void generate({ temperature })} disabled={!hasModel || sample.status === 'working'} data-testid="generate-sample">
          Generate a sample
        </button>
        <label>
          Temperature{' '}
          <select value={temperature} onChange={(e) => setTemperature(Number(e.target.value))}>
            <option value={0}>0 (always the likeliest byte)</option>
            <option value={0.5}>0.5</option>
            <option value={0.8}>0.8</option>
            <option value={1}>1.0</option>
          </select>
        </label>
      </div>
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
    </>
  );
}
