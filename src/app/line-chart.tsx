// A live line chart on uPlot: small (~50 KB), canvas-based, and made for
// time series that grow point by point — redrawing thousands of points per
// training step costs it well under a millisecond, where SVG chart libraries
// rebuild DOM nodes. The component owns one uPlot instance, hands it the
// training feed's arrays on every revision, and follows its container's width.
// Leaves out: zoom persistence and legends beyond uPlot's own.
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

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
  testId?: string;
}

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

export function LineChart({ title, xLabel, yLabel, series, revision, height = 220, big = false, testId }: LineChartProps) {
  const container = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const labels = series.map((s) => `${s.label}:${s.color}:${s.points ?? false}`).join('|');

  useEffect(() => {
    const element = container.current!;
    const font = big ? '20px system-ui, sans-serif' : '12px system-ui, sans-serif';
    const axis = { stroke: '#cbd5e1', grid: { stroke: 'rgba(255,255,255,0.08)' }, ticks: { stroke: 'rgba(255,255,255,0.2)' }, font, labelFont: font };
    const instance = new uPlot(
      {
        width: Math.max(200, element.clientWidth),
        height,
        scales: { x: { time: false } },
        axes: [
          { ...axis, label: xLabel, size: big ? 60 : 40 },
          { ...axis, label: yLabel, size: big ? 90 : 60 },
        ],
        series: [{ label: xLabel }, ...series.map((s) => ({ label: s.label, stroke: s.color, width: big ? 3 : 2, spanGaps: true, points: { show: s.points ?? false, size: big ? 9 : 6, fill: s.color } }))],
        legend: { show: !big }, // the demo screen names its series in the title: a legend row costs a projector line
      },
      align(series),
      element,
    );
    plot.current = instance;
    const observer = new ResizeObserver(() => instance.setSize({ width: Math.max(200, element.clientWidth), height }));
    observer.observe(element);
    return () => {
      observer.disconnect();
      instance.destroy();
      plot.current = null;
    };
    // Rebuild only when the chart's shape changes; data flows through setData below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [labels, height, big, xLabel, yLabel]);

  useEffect(() => {
    plot.current?.setData(align(series));
  }, [revision, series]);

  const points = series.reduce((n, s) => n + s.x.length, 0);
  return (
    <figure className="chart" data-testid={testId} data-points={points}>
      <figcaption>{title}</figcaption>
      <div ref={container} role="img" aria-label={`${title}: ${points} points`} />
    </figure>
  );
}
