// What a protocol check threw, as its code, so a test can list expected
// refusals in one line each: 'no error' when it passed, 'not a ProtocolError'
// when something else was thrown (a bug: every protocol check throws its own type).
// Leaves out: relay and codec codes (those tests read their own error types).
import { ProtocolError, type ProtocolErrorCode } from '../../src/protocol/errors.ts';

export type CheckOutcome = ProtocolErrorCode | 'no error' | 'not a ProtocolError';

function outcomeOf(error: unknown): CheckOutcome {
  return error instanceof ProtocolError ? error.code : 'not a ProtocolError';
}

export function protocolCodeOf(check: () => unknown): CheckOutcome {
  try {
    check();
    return 'no error';
  } catch (error) {
    return outcomeOf(error);
  }
}

export async function protocolCodeOfAsync(check: () => unknown): Promise<CheckOutcome> {
  try {
    await check();
    return 'no error';
  } catch (error) {
    return outcomeOf(error);
  }
}
