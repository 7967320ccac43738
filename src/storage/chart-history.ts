// The dashboard's loss curves across reloads: one record per run with the
// points the charts showed (this tab's inner loss per global step and, when
// standalone, its held-out loss), written now and then by the page and read
// back when the same run starts again, so a reload continues the curve
// instead of starting an empty chart.
// Points are checked on the way in (equal lengths, finite, x ascending) and
// only the newest HISTORY_POINTS of a series are kept, so a record stays
// small (≤ 2 × 5,000 × 2 numbers) however long a tab trains.
// Leaves out: the relay's global loss (the relay keeps it: GET /api/stats).
import { StorageError, storageError } from './errors.ts';
import type { ChartHistoryRecord, ChartSeriesRecord, TesseraDatabase } from './schema.ts';

/** Newest points kept per series. */
export const HISTORY_POINTS = 5_000;

function checkSeries(series: ChartSeriesRecord, name: string): void {
  const bad = (why: string) => {
    throw new StorageError('failed', `chart history ${name}: ${why}`, 'This is a bug in Tessera; please report it.');
  };
  if (!Array.isArray(series.x) || !Array.isArray(series.y) || series.x.length !== series.y.length) bad('x and y must be arrays of equal length');
  for (let i = 0; i < series.x.length; i++) {
    if (!Number.isFinite(series.x[i]) || !Number.isFinite(series.y[i])) bad(`point ${i} is not finite`);
    if (i > 0 && !(series.x[i] > series.x[i - 1])) bad(`x must ascend (point ${i})`);
  }
}

/** The newest HISTORY_POINTS points, as fresh arrays. */
function newest(series: ChartSeriesRecord): ChartSeriesRecord {
  const from = Math.max(0, series.x.length - HISTORY_POINTS);
  return { x: series.x.slice(from), y: series.y.slice(from) };
}

/** Replaces the run's saved history with these series (their newest points). */
export async function saveChartHistory(db: TesseraDatabase, runId: string, innerLoss: ChartSeriesRecord, validationLoss: ChartSeriesRecord, now = Date.now()): Promise<void> {
  checkSeries(innerLoss, 'innerLoss');
  checkSeries(validationLoss, 'validationLoss');
  try {
    await db.put('chartHistory', { runId, innerLoss: newest(innerLoss), validationLoss: newest(validationLoss), savedAt: now });
  } catch (error) {
    throw storageError(error, 'saving the loss charts');
  }
}

/** The run's saved history, or null if none was saved. */
export async function loadChartHistory(db: TesseraDatabase, runId: string): Promise<ChartHistoryRecord | null> {
  try {
    return (await db.get('chartHistory', runId)) ?? null;
  } catch (error) {
    throw storageError(error, 'reading the loss charts');
  }
}
