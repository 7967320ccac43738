// The clock as React state: re-renders every `ms`, for countdowns and the
// figures that cover "the last minute".
// Leaves out: time zones and formatting (format.ts).
import { useEffect, useState } from 'react';

export function useNow(ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return now;
}
