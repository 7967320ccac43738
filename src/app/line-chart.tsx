// A live line chart on uPlot: small (~50 KB), canvas-based, and made for
// time series that grow point by point — redrawing thousands of points per
// training step costs it well under a millisecond, where SVG chart libraries
// rebuild DOM nodes. The component owns one uPlot instance, hands it the
// training feed's arrays on every revision, and follows its container's width.
// A canvas says nothing to a screen reader, so every chart carries its values
// in text: a one-sentence summary (latest, lowest, how many points) and a
// table of the most recent points behind a "values" disclosure.
// Axes whose x counts rounds or versions get whole-number ticks only.
// Leaves out: zoom persistence and legends beyond uPlot's own.
import { useEffect, useRef, useState } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/** A tab's own (inner) loss: amber; a held-out or shared-model loss: sky blue. Both read on the dark panels at over 7:1. */
export const LOSS_COLOR = '#f59e0b';
export const VALIDATION_COLOR = '#38bdf8';

export interface ChartSeries {
  label: string;
  x: number[];
  y: number[];
  color: string;
  points?: boolean; // draw every point (sparse series such as evaluations)
}

export interface LineChartProps {
  title: string;
  xLabel: string;
  yLabel: string;
  series: ChartSeries[];
  revision: number; // redraw when this changes
  height?: number;
  big?: boolean; // demo screen: larger axis text
  /** Only whole-number ticks on the x axis (rounds, versions). */
  integerX?: boolean;
  /** Take the height the layout gives the chart (the demo screen's grid cell) instead of `height`. */
  fill?: boolean;
  testId?: string;
}

/** Rows of the text table: the most recent points are what a reader asks about. */
const TABLE_ROWS = 12;

/** Aligns several (x, y) series on the union of their x values (uPlot's AlignedData). */
function align(series: ChartSeries[]): uPlot.AlignedData {
  const xs = [...new Set(series.flatMap((s) => s.x))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const ys = series.map((s) => {
    const column: (number | null)[] = new Array(xs.length).fill(null);
    s.x.forEach((x, i) => (column[index.get(x)!] = s.y[i]));
    return column;
  });
  return [xs, ...ys];
}

/** Decimals that tell ticks `increment` apart (0.01 → 2, 0.0005 → 4), at most 6. */
export function decimalsFor(increment: number): number {
  return increment > 0 && Number.isFinite(increment) ? Math.min(6, Math.max(0, Math.ceil(-Math.log10(increment) - 1e-9))) : 3;
}

/** One sentence per series: how many points, the latest value and the lowest. */
export function describeSeries(series: ChartSeries, xLabel: string): string {
  const n = series.x.length;
  if (n === 0) return `${series.label}: no points yet.`;
  let low = 0;
  for (let i = 1; i < n; i++) if (series.y[i] < series.y[low]) low = i;
  return `${series.label}: ${n} point${n === 1 ? '' : 's'}; latest ${series.y[n - 1].toFixed(3)} at ${xLabel} ${series.x[n - 1]}; lowest ${series.y[low].toFixed(3)} at ${xLabel} ${series.x[low]}.`;
}

export function LineChart({ title, xLabel, yLabel, series, revision, height = 220, big = false, integerX = false, fill = false, testId }: LineChartProps) {
  const container = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const labels = series.map((s) => `${s.label}:${s.color}:${s.points ?? false}`).join('|');

  useEffect(() => {
    const element = container.current!;
    const heightNow = () => (fill ? Math.max(120, element.clientHeight) : height);
    const font = big ? '600 22px system-ui, sans-serif' : '13px system-ui, sans-serif';
    const axis = { stroke: '#e2e8f0', grid: { stroke: 'rgba(255,255,255,0.10)' }, ticks: { stroke: 'rgba(255,255,255,0.25)' }, font, labelFont: font };
    // Whole numbers only: uPlot picks tick spacings from this list, so a round axis never reads 0.2, 0.4 …
    const xTicks = integerX ? { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000], values: (_u: uPlot, splits: number[]) => splits.map((v) => String(Math.round(v))) } : {};
    const instance = new uPlot(
      {
        width: Math.max(200, element.clientWidth),
        height: heightNow(),
        scales: { x: { time: false } },
        axes: [
          { ...axis, ...xTicks, label: xLabel, size: big ? 64 : 44, labelSize: big ? 34 : 24, space: big ? 90 : 60 },
          // As many decimals as the tick spacing needs: a flat curve never reads "5.555, 5.555, 5.555".
          { ...axis, values: (_u: uPlot, splits: number[], _axis: number, _space: number, increment: number) => splits.map((v) => v.toFixed(decimalsFor(increment))), label: yLabel, size: big ? 110 : 70, labelSize: big ? 34 : 24, space: big ? 60 : 40 },
        ],
        series: [{ label: xLabel }, ...series.map((s) => ({ label: s.label, stroke: s.color, width: big ? 4 : 2, spanGaps: true, points: { show: s.points ?? false, size: big ? 11 : 6, fill: s.color } }))],
        legend: { show: !big }, // the demo screen names its series in the title: a legend row costs a projector line
      },
      align(series),
      element,
    );
    plot.current = instance;
    const observer = new ResizeObserver(() => instance.setSize({ width: Math.max(200, element.clientWidth), height: heightNow() }));
    observer.observe(element);
    return () => {
      observer.disconnect();
      instance.destroy();
      plot.current = null;
    };
    // Rebuild only when the chart's shape changes; data flows through setData below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [labels, height, big, xLabel, yLabel, integerX, fill]);

  useEffect(() => {
    plot.current?.setData(align(series));
  }, [revision, series]);

  const points = series.reduce((n, s) => n + s.x.length, 0);
  const summary = series.map((s) => describeSeries(s, xLabel)).join(' ');
  return (
    <figure className={fill ? 'chart fill' : 'chart'} data-testid={testId} data-points={points}>
      <figcaption>{title}</figcaption>
      {/* The canvas is decoration for screen readers: the summary and the table below carry the values. */}
      <div ref={container} className="plot" aria-hidden="true" />
      <p className="visually-hidden" data-testid={testId ? `${testId}-summary` : undefined}>
        {summary}
      </p>
      {!big && points > 0 && <ChartTable series={series} xLabel={xLabel} />}
    </figure>
  );
}

/** The newest points of every series as a table (a disclosure, closed by default; built only while open). */
function ChartTable({ series, xLabel }: { series: ChartSeries[]; xLabel: string }) {
  const [open, setOpen] = useState(false);
  return (
    <details className="chart-values" onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>Values (the latest {TABLE_ROWS})</summary>
      {open && <ValuesTable series={series} xLabel={xLabel} />}
    </details>
  );
}

function ValuesTable({ series, xLabel }: { series: ChartSeries[]; xLabel: string }) {
  const [xs, ...columns] = align(series.map((s) => ({ ...s, x: s.x.slice(-TABLE_ROWS), y: s.y.slice(-TABLE_ROWS) })));
  const from = Math.max(0, xs.length - TABLE_ROWS);
  const rows = [];
  for (let i = xs.length - 1; i >= from; i--) rows.push(i);
  return (
      <table className="checks">
        <thead>
          <tr>
            <th scope="col">{xLabel}</th>
            {series.map((s) => (
              <th scope="col" key={s.label}>
                {s.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((i) => (
            <tr key={xs[i]}>
              <td>{xs[i]}</td>
              {columns.map((column, c) => (
                <td key={series[c].label}>{column[i] == null ? '—' : (column[i] as number).toFixed(3)}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
  );
}
