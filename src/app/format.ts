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

export function formatBytes(bytes: number): string {
  if (bytes >= 1 << 30) return `${(bytes / (1 << 30)).toFixed(bytes % (1 << 30) ? 1 : 0)} GiB`;
  if (bytes >= 1 << 20) return `${(bytes / (1 << 20)).toFixed(bytes % (1 << 20) ? 1 : 0)} MiB`;
  if (bytes >= 1 << 10) return `${(bytes / (1 << 10)).toFixed(bytes % (1 << 10) ? 1 : 0)} KiB`;
  return `${bytes} B`;
}

/** "1:05" for 65 s; never negative. */
export function formatCountdown(ms: number): string {
  const seconds = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}

export function formatPercent(share: number | null): string {
  return share === null || !Number.isFinite(share) ? NONE : `${Math.round(share * 100)} %`;
}
