// The swarm session's RawSigner: the wallet lives on the page (extension-dapp
// needs `window`), so signRaw posts a 'sign-request' event and waits for the
// page's 'sign-result' request with the signature or the refusal.
// Leaves out: what a refusal means for the round (the Volunteer puts the
// update back into the residual; the session waits for the next round).
import { hexToU8a } from '@polkadot/util';
import { decodeHeader, type RawSigner } from '../protocol/index.ts';
import { TrainingStoppedError } from '../swarm/trainer.ts';
import type { PostEvent } from './session-control.ts';

interface PendingSignature {
  resolve: (value: { signature: string }) => void;
  reject: (error: Error) => void;
}

export class PageSigner implements RawSigner {
  private readonly pending = new Map<number, PendingSignature>();
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly post: PostEvent,
    /** Told before a request goes to the page, with the round the header names. */
    private readonly onRequest: (round: number) => void,
  ) {}

  signRaw({ address, data }: { address: string; data: string; type?: 'bytes' | 'payload' }): Promise<{ signature: string }> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new TrainingStoppedError());
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      const round = roundOf(data);
      this.onRequest(round);
      this.post({ kind: 'sign-request', id, address, data, round });
    });
  }

  /** The page's answer; one that comes after a stop finds nothing waiting and is dropped. */
  answer(id: number, signature: string | null, error: string | null): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    if (signature !== null) pending.resolve({ signature });
    else pending.reject(new Error(error ?? 'the wallet did not sign'));
  }

  /** Refuses every pending and later request (the session stops). */
  close(): void {
    this.closed = true;
    for (const pending of this.pending.values()) pending.reject(new TrainingStoppedError());
    this.pending.clear();
  }
}

/** The round a header (hex of its bytes, as signRaw gets it) names; −1 if it does not decode. */
function roundOf(data: string): number {
  try {
    return decodeHeader(hexToU8a(data)).round;
  } catch {
    return -1;
  }
}
