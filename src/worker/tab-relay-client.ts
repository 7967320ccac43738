// The relay client of a tab's swarm session. A tab keeps ONE WebSocket to the
// relay, the page's (so the relay's peer count counts tabs, not tabs × 2);
// the page forwards the push events it hears ('push' requests) and
// pushEvent() hands them to the Volunteer, which also polls.
// Leaves out: everything else, which is the plain RelayClient.
import type { PushEvent } from '../protocol/index.ts';
import { RelayClient } from '../swarm/relay-client.ts';

export class TabRelayClient extends RelayClient {
  private readonly pushListeners = new Set<(event: PushEvent) => void>();

  /** No socket of its own: the page forwards its push events through pushEvent(). */
  override events(onEvent: (event: PushEvent) => void): { close(): void } {
    this.pushListeners.add(onEvent);
    return { close: () => this.pushListeners.delete(onEvent) };
  }

  pushEvent(event: PushEvent): void {
    for (const listener of this.pushListeners) listener(event);
  }
}
