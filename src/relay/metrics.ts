// The relay's Prometheus metrics (prom-client), served at GET /metrics in
// the text exposition format. One registry per relay (a process running
// several relays, as the tests do, keeps them apart). Every metric is listed
// in docs/deploy.md with what it is for.
//
//   tessera_round_duration_seconds{reason}     round open → commit, observed by the replica that closed it
//   tessera_round_close_seconds                aggregation → commit of a close (the relay's own work)
//   tessera_rounds_closed_total{reason}        closes this replica committed (quorum | deadline)
//   tessera_submissions_accepted_total         acknowledged submissions
//   tessera_submissions_refused_total{code}    refusals by error code (docs/protocol.md's codes)
//   tessera_submission_store_seconds           the durable write before an acknowledgement
//   tessera_evaluation_seconds{job}            evaluation latency (validation-loss; gauntlet: a close's trials)
//   tessera_http_received_bytes_total{route}   request bodies
//   tessera_http_sent_bytes_total{route}       response bodies (push events: route "events")
//   tessera_connected_tabs                     open push channels (WebSocket /api/events) on this replica
//   tessera_round, tessera_model_version       the open round and the model it trains from
//   tessera_round_submissions                  submissions in the open round (all replicas, as last counted here)
//   process_*, nodejs_*                        prom-client's default metrics (CPU, memory, event loop lag, GC)
//
// Leaves out: per-address metrics (unbounded label sets), histograms of
// payload sizes (bytes_total by route covers bandwidth).
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Route labels: a fixed set, whatever a client requests. */
export type RouteLabel = 'submissions' | 'checkpoint' | 'updates' | 'run' | 'round' | 'stats' | 'ledger' | 'health' | 'metrics' | 'events' | 'static' | 'other';

const ROUTES: Record<string, RouteLabel> = {
  '/api/submissions': 'submissions',
  '/api/checkpoint': 'checkpoint',
  '/api/updates': 'updates',
  '/api/run': 'run',
  '/api/round': 'round',
  '/api/stats': 'stats',
  '/api/ledger': 'ledger',
  '/api/health': 'health',
  '/metrics': 'metrics',
  '/api/events': 'events',
};

export function routeLabel(path: string): RouteLabel {
  if (path.startsWith('/api/ledger/')) return 'ledger';
  return ROUTES[path] ?? (path.startsWith('/api/') ? 'other' : 'static');
}

export class RelayMetrics {
  readonly registry = new Registry();
  readonly roundDuration = new Histogram({
    name: 'tessera_round_duration_seconds',
    help: 'Time from a round opening to the commit of its close, observed by the replica that closed it.',
    labelNames: ['reason'],
    buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800],
    registers: [this.registry],
  });
  readonly closeSeconds = new Histogram({
    name: 'tessera_round_close_seconds',
    help: 'Time a close takes from aggregation to commit (aggregate, outer step, model hash, durable writes).',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly roundsClosed = new Counter({ name: 'tessera_rounds_closed_total', help: 'Round closes this replica committed.', labelNames: ['reason'], registers: [this.registry] });
  readonly accepted = new Counter({ name: 'tessera_submissions_accepted_total', help: 'Submissions stored durably and acknowledged.', registers: [this.registry] });
  readonly refused = new Counter({ name: 'tessera_submissions_refused_total', help: 'Submissions refused, by error code.', labelNames: ['code'], registers: [this.registry] });
  readonly storeSeconds = new Histogram({
    name: 'tessera_submission_store_seconds',
    help: 'The durable write of a submission before its acknowledgement (group commit, database commit).',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly evaluationSeconds = new Histogram({
    name: 'tessera_evaluation_seconds',
    help: 'Evaluation latency, by job.',
    labelNames: ['job'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly bytesIn = new Counter({ name: 'tessera_http_received_bytes_total', help: 'Request body bytes received, by route.', labelNames: ['route'], registers: [this.registry] });
  readonly bytesOut = new Counter({ name: 'tessera_http_sent_bytes_total', help: 'Response body bytes sent, by route (push events: events).', labelNames: ['route'], registers: [this.registry] });
  readonly connectedTabs = new Gauge({ name: 'tessera_connected_tabs', help: 'Open push channels (WebSocket /api/events) on this replica.', registers: [this.registry] });
  /** Read at scrape time from the relay (observe). */
  private source: () => { round: number; version: number; submissions: number } = () => ({ round: 0, version: 0, submissions: 0 });
  readonly round = this.sourced('tessera_round', 'The open round.', (v) => v.round);
  readonly modelVersion = this.sourced('tessera_model_version', 'The model version the open round trains from.', (v) => v.version);
  readonly roundSubmissions = this.sourced('tessera_round_submissions', 'Submissions stored for the open round, by every replica, as last counted by this one.', (v) => v.submissions);

  private sourced(name: string, help: string, pick: (values: { round: number; version: number; submissions: number }) => number): Gauge {
    const source = () => this.source();
    return new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(pick(source()));
      },
    });
  }

  /** Where the round gauges read their values when scraped. */
  observe(source: () => { round: number; version: number; submissions: number }): void {
    this.source = source;
  }

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** The exposition text and its content type. */
  async exposition(): Promise<{ text: string; contentType: string }> {
    return { text: await this.registry.metrics(), contentType: this.registry.contentType };
  }
}
