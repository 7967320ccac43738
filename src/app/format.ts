// Number formatting shared by the panels: compact, unit-bearing, and
// "—" for values that do not exist yet (never a made-up zero).
export const NONE = '—';

export function formatRate(value: number | null, unit: string, digits = 1): string {
  if (value === null || !Number.isFinite(value)) return NONE;
  if (value >= 1e6) return `${(value / 1e6).toFixed(digits)} M${unit}`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(digits)} k${unit}`;
  return `${value.toFixed(digits)} ${unit}`;
}

export function formatCount(value: number | null): string {
  return value === null ? NONE : value.toLocaleString('en-US');
}

export function formatLoss(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value) ? NONE : value.toFixed(3);
}
