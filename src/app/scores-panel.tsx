// Gauntlet in the page: the leaderboard (address, rank, score, payout share,
// rounds aggregated) on the dashboard and the demo screen, the tab's own
// latest receipt — verified here against the relay's published key — as
// "your update improved the loss by x %, rank k of n", and the words for why a
// submission was not aggregated (the ledger table uses them).
// Leaves out: fetching and verifying (relay-watcher.ts).
import type { ExclusionReason, Scoreboard } from '../protocol/index.ts';
import { NONE } from './format.ts';
import type { MyReceipt } from './relay-watcher.ts';

/** Why a submission was not aggregated, for a person. */
export const EXCLUSION_TEXT: Record<ExclusionReason, string> = {
  quarantined: 'quarantined: an earlier upload from this address copied another contributor’s',
  copy: 'it copies an earlier upload of the round',
  'not-improving': 'it did not lower the loss on the round’s random batch',
  invalid: 'it made the loss non-finite',
  'negative-streak': 'three evaluations in a row made the loss worse',
  unproven: 'not evaluated this round, and no positive score yet',
  'not-selected': 'outside the top contributors by score this round',
};

export function shortAddress(address: string): string {
  return `${address.slice(0, 6)}…${address.slice(-4)}`;
}

const percent = (share: number, digits = 1) => `${(100 * share).toFixed(digits)} %`;

/** Gauntlet's scoreboard; `compact` (the demo screen's narrow column) leaves out the rounds and keeps every cell on one line. */
export function LeaderboardTable({ board, limit = 10, compact = false, highlight = null }: { board: Scoreboard | null; limit?: number; compact?: boolean; highlight?: string | null }) {
  if (!board) return <p className="muted">No leaderboard: this relay does not score contributions.</p>;
  if (board.rows.length === 0) return <p className="muted" data-testid="leaderboard-empty">No contributions scored yet.</p>;
  return (
    <table className={compact ? 'checks leaderboard compact' : 'checks leaderboard'} data-testid="leaderboard" data-round={board.round}>
      <caption className="visually-hidden">Addresses by payout share, then score (Gauntlet)</caption>
      <thead>
        <tr>
          <th scope="col">{compact ? '#' : 'rank'}</th>
          <th scope="col">address</th>
          <th scope="col">score</th>
          <th scope="col">payout</th>
          {!compact && <th scope="col">rounds</th>}
        </tr>
      </thead>
      <tbody>
        {board.rows.slice(0, limit).map((row) => (
          <tr key={row.address} data-address={row.address} data-weight={row.weight} className={row.address === highlight ? 'mine' : undefined}>
            <td>{row.rank}</td>
            <td title={row.address}>{shortAddress(row.address)}</td>
            <td>{row.score > 0 ? row.score.toFixed(2) : NONE}</td>
            <td>{percent(row.weight)}</td>
            {!compact && (
              <td>
                {row.rounds} / {row.submitted}
              </td>
            )}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function ReceiptSummary({ receipt }: { receipt: MyReceipt | null }) {
  if (!receipt) return <p className="muted" data-testid="my-receipt" data-state="none">No receipt yet: it comes when a round you submitted to closes.</p>;
  if (receipt.problem || !receipt.entry) {
    return (
      <p className="note" data-testid="my-receipt" data-state="invalid" data-round={receipt.round}>
        Round {receipt.round}: the relay’s receipt did not verify ({receipt.problem}).
      </p>
    );
  }
  const e = receipt.entry;
  const improvement =
    e.status === 'evaluated'
      ? `your update ${e.score >= 0 ? 'improved' : 'worsened'} the loss by ${(100 * Math.abs(e.score)).toFixed(3)} %, rank ${receipt.rank} of ${receipt.evaluated}`
      : e.status === 'relay-failure'
        ? 'the relay could not evaluate your update in time (no penalty)'
        : e.status === 'not-drawn'
          ? `your update was not drawn for evaluation (${receipt.evaluated} of ${receipt.submissions} were)`
          : `your update was ${e.status}`;
  return (
    <p data-testid="my-receipt" data-state="verified" data-round={receipt.round} data-rank={receipt.rank ?? ''} data-aggregated={String(e.aggregated)}>
      Round {receipt.round}: {improvement}; {e.aggregated ? 'aggregated' : `not aggregated: ${EXCLUSION_TEXT[e.reason!]}`}; payout share {percent(e.weight)}.{' '}
      <span className="small muted" title={`signed by the relay key ${receipt.signer}`}>
        Receipt verified in this page (relay {shortAddress(receipt.signer)}).
      </span>
    </p>
  );
}
