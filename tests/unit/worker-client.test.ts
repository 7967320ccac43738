// The page's side of the training Worker (src/worker/client.ts): pause
// reasons and the throttle the page asked for before the Worker existed, or
// before a crashed Worker was replaced, reach the Worker as soon as it is
// created — the battery check answers before the Worker exists, and its
// pause must not be dropped; a lifted reason is not replayed.
import { describe, expect, it } from 'vitest';
import { TrainingClient, type WorkerLike } from '../../src/worker/client.ts';

class RecordingWorker implements WorkerLike {
  readonly sent: unknown[] = [];
  onmessage: ((event: MessageEvent) => void) | null = null;
  onerror: ((event: ErrorEvent) => void) | null = null;
  postMessage(message: unknown): void {
    this.sent.push(message);
  }
  terminate(): void {}
}

describe('TrainingClient', () => {
  it('sends pause reasons and the throttle given before the Worker existed when it is created', () => {
    const workers: RecordingWorker[] = [];
    const client = new TrainingClient(() => {
      const worker = new RecordingWorker();
      workers.push(worker);
      return worker;
    });
    client.pause('battery');
    client.pause('hidden');
    client.resume('hidden');
    client.setThrottle(0.25);
    expect(workers).toHaveLength(0);
    client.probe();
    expect(workers).toHaveLength(1);
    expect(workers[0].sent).toEqual([
      { kind: 'pause', reason: 'battery' },
      { kind: 'setThrottle', throttle: 0.25 },
      { kind: 'probe' },
    ]);
  });

  it('gives a replacement Worker the reasons that still hold after a crash', () => {
    const workers: RecordingWorker[] = [];
    const client = new TrainingClient(() => {
      const worker = new RecordingWorker();
      workers.push(worker);
      return worker;
    });
    const events: string[] = [];
    client.subscribe((event) => events.push(event.kind));
    client.probe();
    client.pause('battery');
    workers[0].onerror?.({ message: 'boom', preventDefault() {} } as ErrorEvent);
    expect(events).toEqual(['error']);
    client.probe();
    expect(workers).toHaveLength(2);
    expect(workers[1].sent).toEqual([{ kind: 'pause', reason: 'battery' }, { kind: 'probe' }]);
  });
});
