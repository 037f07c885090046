// An S3-compatible server for pfo3's tests: @20minutes/s3rver, which verifies SigV4
// signatures (keys S3RVER / S3RVER), so a signing bug or a wrong secret fails as against AWS.
//   node server.js --port PORT --directory DIR [--bucket NAME]... [--cert PEM --key PEM]
// With --cert and --key it serves https (s3rver's own TLS option) instead of http.
// Prints "s3rver listening on ADDRESS:PORT" once it accepts connections; SIGTERM closes it.
'use strict';
const fs = require('fs');
const S3rver = require('@20minutes/s3rver');

function parse(argv) {
  const opts = { address: '127.0.0.1', port: 0, directory: null, buckets: [], cert: null, key: null };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    switch (argv[i]) {
      case '--address': opts.address = value; i++; break;
      case '--port': opts.port = Number(value); i++; break;
      case '--directory': opts.directory = value; i++; break;
      case '--bucket': opts.buckets.push(value); i++; break;
      case '--cert': opts.cert = value; i++; break;
      case '--key': opts.key = value; i++; break;
      default: throw new Error(`unknown argument ${argv[i]}`);
    }
  }
  if (!opts.directory) throw new Error('--directory is required');
  if (!opts.cert !== !opts.key) throw new Error('--cert and --key go together');
  return opts;
}

async function main() {
  const opts = parse(process.argv.slice(2));
  fs.mkdirSync(opts.directory, { recursive: true });
  const server = new S3rver({
    address: opts.address,
    port: opts.port,
    directory: opts.directory,
    silent: true,
    configureBuckets: opts.buckets.map((name) => ({ name, configs: [] })),
    ...(opts.cert ? { cert: fs.readFileSync(opts.cert), key: fs.readFileSync(opts.key) } : {}),
  });
  const { address, port } = await server.run();
  console.log(`s3rver listening on ${address}:${port}${opts.cert ? ' (https)' : ''}`);
  const stop = () => server.close().then(() => process.exit(0), () => process.exit(1));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  console.error(`s3rver: ${err.stack || err}`);
  process.exit(1);
});
