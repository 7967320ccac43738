// Who may hold how much of the relay at once: a count per client address and
// a count in total, for one kind of resource (connections, uploads, push
// channels). acquire() answers before any work is done for the request, so a
// refusal costs a map lookup; the caller turns it into a typed error (429 for
// one address over its share, 503 when everyone together is over the total).
// Counts are exact: every acquire that succeeds returns its own release, and
// releasing twice is harmless (a socket's 'close' and an error path can both fire).
//
// Leaves out: rates (rate-limit.ts) and sharing counts across relay processes.

export type AdmissionRefusal = 'per-address' | 'total';

export class ConcurrencyLimit {
  private readonly byAddress = new Map<string, number>();
  private total = 0;

  constructor(
    readonly perAddress: number,
    readonly max: number,
  ) {}

  /** A release function, or why there is no room. */
  acquire(address: string): (() => void) | AdmissionRefusal {
    const held = this.byAddress.get(address) ?? 0;
    if (held >= this.perAddress) return 'per-address';
    if (this.total >= this.max) return 'total';
    this.byAddress.set(address, held + 1);
    this.total += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total -= 1;
      const left = (this.byAddress.get(address) ?? 1) - 1;
      if (left === 0) this.byAddress.delete(address);
      else this.byAddress.set(address, left);
    };
  }

  /** Held now, by one address or in total (tests, logs). */
  held(address?: string): number {
    return address === undefined ? this.total : (this.byAddress.get(address) ?? 0);
  }
}
