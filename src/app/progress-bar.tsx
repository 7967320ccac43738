// Progress for a long wait: a labelled <progress> (indeterminate when the
// fraction is unknown) announced politely to screen readers.
import { PHASE_LABELS, type ProgressPhase } from '../worker/protocol.ts';

export function ProgressBar({ phase, fraction, detail }: { phase: ProgressPhase; fraction: number | null; detail: string | null }) {
  const label = PHASE_LABELS[phase];
  return (
    <div className="progress" role="status" aria-live="polite" data-testid="training-progress" data-phase={phase}>
      <span>
        {label}
        {detail ? ` — ${detail}` : ''}
        {fraction !== null ? ` (${Math.round(fraction * 100)}%)` : '…'}
      </span>
      {fraction === null ? <progress aria-label={label} /> : <progress aria-label={label} max={1} value={fraction} />}
    </div>
  );
}
