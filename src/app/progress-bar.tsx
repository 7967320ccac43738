// Progress for a long wait: a labelled <progress> (indeterminate when the
// fraction is unknown) announced politely to screen readers. The wait for a
// round to close says what closes it (the quorum, in words).
// Leaves out: time estimates (phases report fractions, not rates).
import { PHASE_LABELS, type ProgressPhase } from '../worker/protocol.ts';

export function ProgressBar({ phase, fraction, detail, quorum = null }: { phase: ProgressPhase; fraction: number | null; detail: string | null; quorum?: number | null }) {
  const label = PHASE_LABELS[phase];
  const why = phase === 'waiting-for-round' && quorum !== null ? ` — it closes when ${quorum} updates are in or at its deadline` : '';
  return (
    <div className="progress" role="status" aria-live="polite" data-testid="training-progress" data-phase={phase}>
      <span>
        {label}
        {detail ? ` — ${detail}` : ''}
        {why}
        {fraction !== null ? ` (${Math.round(fraction * 100)}%)` : '…'}
      </span>
      {fraction === null ? <progress aria-label={label} /> : <progress aria-label={label} max={1} value={fraction} />}
    </div>
  );
}
