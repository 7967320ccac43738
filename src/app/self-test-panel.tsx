// Shows the self-test's verdict: the GPU's matmul against the reference, as
// the training Worker ran it on the tab's device (src/worker/self-test.ts).
import type { DeviceView, SelfTestView } from './use-device.ts';

export function SelfTestPanel({ device, state }: { device: DeviceView; state: SelfTestView }) {
  if (device.status !== 'ready') return null;
  const verdict = state.status === 'done' ? (state.result.ok ? 'pass' : 'fail') : state.status;
  return (
    <section className="subpanel" aria-labelledby="selftest-heading" data-testid="self-test" data-verdict={verdict}>
      <h3 id="selftest-heading">GPU self-test</h3>
      {state.status === 'running' && <p role="status">Checking the GPU's arithmetic against the reference…</p>}
      {state.status === 'error' && <p role="alert">The self-test could not run: {state.message}</p>}
      {state.status === 'done' && (
        <>
          <p role="status">
            {state.result.ok ? '✓ This GPU computes matmul forward and backward correctly' : '✗ This GPU gave wrong results'}{' '}
            <span className="muted">({state.result.ms.toFixed(0)} ms)</span>
          </p>
          <table className="checks">
            <thead>
              <tr>
                <th scope="col">kernel</th>
                <th scope="col">max abs error</th>
                <th scope="col">result</th>
              </tr>
            </thead>
            <tbody>
              {state.result.checks.map((c) => (
                <tr key={c.name}>
                  <td>{c.name}</td>
                  <td>{c.maxAbsError.toExponential(2)}</td>
                  <td>{c.ok ? 'pass' : 'FAIL'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
