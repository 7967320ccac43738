// `node --import tsx src/cluster/s3-test-server.ts --dir D --port P --bucket B`:
// an S3-compatible endpoint on 127.0.0.1 for tests, benches and `npm run
// cluster`, from the npm package s3rver (PUT, GET, range GET, DELETE, object
// metadata; it does not check signatures). It stands in for a real bucket
// (S3, R2, MinIO) on a machine that has none: it keeps objects as plain files
// and does not fsync them, so it promises no durability, and it is not a
// server to deploy. Prints `s3 test server listening on http://127.0.0.1:P/`.
// Runs in its own process so a test can stop it (a bucket outage) and start
// it again on the same directory.
// Leaves out: TLS, authentication.
import S3rver from 's3rver';
import { integerFlag, parseCommandLine, runCli } from '../node/cli.ts';

const USAGE = 'usage: node --import tsx src/cluster/s3-test-server.ts --dir DIR [--port 0] [--bucket tessera]';

async function main(): Promise<'keep-running'> {
  const { values } = parseCommandLine(process.argv.slice(2), {
    dir: { type: 'string' },
    port: { type: 'string', default: '0' },
    bucket: { type: 'string', default: 'tessera' },
  } as const);
  if (!values.dir) throw new Error('--dir is required');
  const server = new S3rver({
    address: '127.0.0.1',
    port: integerFlag(values.port, 'port') ?? 0,
    directory: values.dir,
    silent: true,
    configureBuckets: [{ name: values.bucket, configs: [] }],
  });
  const { port } = (await server.run()) as { port: number };
  console.log(`s3 test server listening on http://127.0.0.1:${port}/`);
  const stop = () => void server.close().finally(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return 'keep-running';
}

runCli(USAGE, main);
