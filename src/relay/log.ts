// The relay's logs: structured JSON lines from pino (one object per event:
// time, level, msg and the event's fields, e.g. {round, submissions, version,
// closeMs}), for a log pipeline; or the same events as plain lines for a
// person at a terminal (`npm start`) and for tests. Both come from one pino
// logger, so every event has the same fields either way.
//
//   jsonLogger()        JSON lines on stdout (npm run relay -- --log-format json)
//   lineLogger(write)   "[relay] round closed round=3 submissions=16 …" to `write`
//   silentLogger()      nothing (library use without a logger)
//
// Why a plain formatter rather than pino-pretty: one function, no dependency,
// and the line format is what the relay printed before.
// Leaves out: log rotation and shipping (stdout is the interface).
import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

const SERVICE = { service: 'tessera-relay' };

export function jsonLogger(fields: Record<string, string> = {}): Logger {
  return pino({ base: { ...SERVICE, pid: process.pid, ...fields }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 1, sync: true }));
}

const OMITTED = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'service', 'err']);
const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: '', 40: 'warning: ', 50: 'error: ', 60: 'fatal: ' };

/** One JSON log record as a person reads it: the message, then key=value for each field. */
export function humanLine(record: Record<string, unknown>): string {
  const fields = Object.entries(record)
    .filter(([key]) => !OMITTED.has(key))
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  const err = record.err as { stack?: string; message?: string } | undefined;
  const level = LEVELS[record.level as number] ?? '';
  return `${level}${record.msg ?? ''}${fields.length ? ` ${fields.join(' ')}` : ''}${err ? `\n${err.stack ?? err.message}` : ''}`;
}

export function lineLogger(write: (line: string) => void, prefix = '[relay] '): Logger {
  return pino(
    { base: undefined, timestamp: false },
    {
      write(json: string) {
        write(prefix + humanLine(JSON.parse(json) as Record<string, unknown>));
      },
    },
  );
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
