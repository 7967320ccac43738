// `npm run volunteer -- --relay http://127.0.0.1:8787 --key //Alice [--rounds N]`
// A headless volunteer: joins the relay's run, trains on this machine's GPU
// through Dawn (SwiftShader when there is none), and contributes N rounds
// (default: until Ctrl+C). Prints one line per step of the round loop. In a
// run with time-boxed rounds it trains until each round's training deadline,
// so a faster GPU contributes more steps (B and T are the run's: a submission
// reports exactly steps·B·T tokens).
import { integerFlag, parseCommandLine, runCli, UsageError } from '../node/cli.ts';
import { createNodeVolunteer } from './node-volunteer.ts';

const USAGE = 'usage: npm run volunteer -- --relay http://127.0.0.1:8787 --key <dev URI like //Alice, or a mnemonic> [--rounds N]';

const FLAGS = {
  relay: { type: 'string' },
  key: { type: 'string' },
  rounds: { type: 'string' },
} as const;

async function main(): Promise<void> {
  const { values } = parseCommandLine(process.argv.slice(2), FLAGS);
  const { relay: relayUrl, key } = values;
  if (!relayUrl || !key) throw new UsageError('--relay and --key are required');
  const rounds = integerFlag(values.rounds, 'rounds', 1) ?? Infinity;
  const controller = new AbortController();
  let interrupted = false;
  process.on('SIGINT', () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.log('stopping after the step in flight (Ctrl+C again to quit now)');
    controller.abort();
  });

const log = (text: string) => console.log(`[volunteer] ${text}`);
  const volunteer = await createNodeVolunteer({
    relayUrl,
    key,
    signal: controller.signal,
    onCompressionMeasured: (m) => log(`compressing on the ${m.path.toUpperCase()}: ${m.reason}`),
    onEvent: (event) => {
      switch (event.type) {
        case 'synced':
          return log(`model v${event.version} ${event.modelHash.slice(0, 18)}… (${event.via})`);
        case 'trained':
          return log(`round ${event.round}: ${event.steps} steps, ${event.tokens} tokens, loss ${event.lastLoss.toFixed(4)}, ${(event.ms / 1000).toFixed(1)} s`);
        case 'submitted':
          return log(`round ${event.round}: submitted ${event.payloadBytes} bytes, acknowledged`);
        case 'refused':
          return log(`round ${event.round}: refused (${event.code}): ${event.message}`);
        case 'applied':
          return log(`applied the aggregate → v${event.version} ${event.modelHash.slice(0, 18)}… = relay's`);
        case 'mismatch':
          return log(`MODEL MISMATCH at v${event.version}: ${event.actual} ≠ relay's ${event.expected}; re-downloading`);
        case 'skipped':
          return log(`round ${event.round}: skipped (${event.reason})`);
        case 'round-work':
          return log(`round ${event.round}: GPU busy ${((100 * event.workMs) / event.periodMs).toFixed(0)}% of ${(event.periodMs / 1000).toFixed(1)} s, ${((1000 * event.tokens) / event.periodMs).toFixed(0)} tokens/s over the round`);
        case 'problem':
          return log(event.message);
      }
    },
  });
  log(`${volunteer.address} joined run ${volunteer.run.runId} (${volunteer.run.model.name}, H = ${volunteer.run.innerSteps})`);
  try {
    let done = 0;
    while (done < rounds && !controller.signal.aborted) {
      try {
        await volunteer.contribute();
        done++;
      } catch (error) {
        if (controller.signal.aborted) break;
        log(`round failed: ${(error as Error).message}; retrying in 5 s`);
        await new Promise((resolve) => setTimeout(resolve, 5_000));
      }
    }
  } finally {
    volunteer.close();
  }
}

runCli(USAGE, main);
