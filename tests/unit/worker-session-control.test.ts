// The controls both Worker modes share (src/worker/session-control.ts):
// pause reasons are a set (resuming one never lifts another), every change
// is posted as a status, the gate holds work while a reason holds and lets it
// go on the resume, a throttled gate sleeps work·(1 − share)/share after a
// chunk (fake timers) — a wake-up that changes nothing does not cut that rest
// short, a pause, a new throttle or a stop does — and a stopping session is
// never held.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { WorkerEvent } from '../../src/worker/protocol.ts';
import { SessionControl } from '../../src/worker/session-control.ts';

afterEach(() => vi.useRealTimers());

function control() {
  const events: WorkerEvent[] = [];
  const c = new SessionControl((event) => events.push(event));
  const statuses = () => events.filter((e): e is Extract<WorkerEvent, { kind: 'status' }> => e.kind === 'status');
  return { c, events, statuses };
}

describe('SessionControl', () => {
  it('keeps pause reasons as a set: resuming one reason never lifts another', () => {
    const { c, statuses } = control();
    c.setState('training');
    c.handle({ kind: 'pause', reason: 'user' });
    c.handle({ kind: 'pause', reason: 'hidden' });
    expect(statuses().at(-1)).toMatchObject({ state: 'paused', pausedFor: ['user', 'hidden'] });
    c.handle({ kind: 'resume', reason: 'hidden' });
    expect(statuses().at(-1)).toMatchObject({ state: 'paused', pausedFor: ['user'] });
    c.handle({ kind: 'resume', reason: 'user' });
    expect(statuses().at(-1)).toMatchObject({ state: 'training', pausedFor: [] });
    c.handle({ kind: 'setThrottle', throttle: 0.5 });
    expect(statuses().at(-1)).toMatchObject({ state: 'training', throttle: 0.5 });
    expect(c.chunkSteps()).toBe(1);
  });

  it('a pause before any run is remembered, and the run starts paused', () => {
    const { c, statuses } = control();
    c.handle({ kind: 'pause', reason: 'battery' });
    expect(statuses().at(-1)).toMatchObject({ state: 'stopped', pausedFor: ['battery'] });
    c.resumeWork();
    expect(c.currentState).toBe('paused');
  });

  it('holds the gate while paused and opens it on resume; never holds a stopping session', async () => {
    const { c } = control();
    c.setState('training');
    c.handle({ kind: 'pause', reason: 'user' });
    let passed = false;
    const gate = c.gate(0, () => false).then(() => (passed = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(passed).toBe(false);
    c.handle({ kind: 'resume', reason: 'user' });
    await gate;
    expect(c.currentState).toBe('training');

    c.handle({ kind: 'pause', reason: 'user' });
    let stopping = false;
    const held = c.gate(0, () => stopping);
    stopping = true;
    c.wakeUp();
    await held; // let go although still paused
    expect(c.currentState).toBe('paused');
  });

  it('sleeps work·(1 − share)/share after a chunk when throttled', async () => {
    vi.useFakeTimers();
    const { c } = control();
    c.setState('training');
    c.setThrottle(0.25); // the GPU works a quarter of the time: 300 ms of work → 900 ms of rest
    let passed = false;
    const gate = c.gate(300, () => false).then(() => (passed = true));
    await vi.advanceTimersByTimeAsync(899);
    expect(passed).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await gate;
    expect(passed).toBe(true);
    c.setThrottle(1);
    let unthrottled = false;
    await c.gate(300, () => false).then(() => (unthrottled = true));
    expect(unthrottled).toBe(true);
    expect(c.chunkSteps()).toBe(4);
  });

  it('rests its whole length through wake-ups that change nothing; a new throttle or a stop ends the rest', async () => {
    vi.useFakeTimers();
    const { c } = control();
    c.setState('training');
    c.setThrottle(0.25);
    let passed = false;
    const gate = c.gate(300, () => false).then(() => (passed = true));
    await vi.advanceTimersByTimeAsync(400);
    c.handle({ kind: 'resume', reason: 'hidden' }); // the tab became visible: no pause held, nothing changes
    c.wakeUp();
    await vi.advanceTimersByTimeAsync(499);
    expect(passed).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await gate;

    let released = false;
    const second = c.gate(300, () => false).then(() => (released = true));
    await vi.advanceTimersByTimeAsync(100);
    expect(released).toBe(false);
    c.setThrottle(1); // full speed: no reason to go on resting
    await vi.advanceTimersByTimeAsync(0);
    await second;
    expect(released).toBe(true);

    c.setThrottle(0.25);
    let stopping = false;
    let stopped = false;
    const third = c.gate(300, () => stopping).then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(100);
    stopping = true;
    c.wakeUp();
    await vi.advanceTimersByTimeAsync(0);
    await third;
    expect(stopped).toBe(true);
  });
});
