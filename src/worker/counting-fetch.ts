// The fetch the swarm session's relay client uses: like fetch, but it reports
// byte progress while the model checkpoint (GET /api/checkpoint) or the
// catch-up bundle (GET /api/updates) streams in, so the page can show a
// progress bar for the two downloads that can take long.
// Leaves out: everything else the client fetches (small JSON answers).
import type { ProgressPhase } from './protocol.ts';

export type ProgressReport = (phase: ProgressPhase, fraction: number | null, detail: string | null) => void;

export function countingFetch(fetchImpl: typeof fetch, progress: ProgressReport): typeof fetch {
  return async (input, init) => {
    const response = await fetchImpl(input, init);
    const path = new URL(input instanceof Request ? input.url : String(input)).pathname;
    const phase: ProgressPhase | null = path === '/api/checkpoint' ? 'downloading-model' : path === '/api/updates' ? 'catching-up' : null;
    if (!phase || !response.ok || !response.body) return response;
    const total = Number(response.headers.get('content-length')) || 0;
    let received = 0;
    progress(phase, total ? 0 : null, 'downloading');
    const counted = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform: (chunk, controller) => {
          received += chunk.byteLength;
          progress(phase, total ? Math.min(1, received / total) : null, `${(received / 1024).toFixed(0)} KiB`);
          controller.enqueue(chunk);
        },
      }),
    );
    return new Response(counted, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}
