// A test backend for HTTP/2, run as its own process (so a test can kill -9 it): a real gRPC server
// (@grpc/grpc-js, the Orders service below with raw Buffer messages, no .proto) and a plain h2c server
// (node:http2) on a second port. Usage:
//   node h2-backend-child.js <name>     → prints "listening grpc=<port> h2=<port>" on stdout
// gRPC: Get (unary, answers {"instance","got"}), List (server streaming: the request is a count N, answers
// N messages "<name>:<i>"), Slow (the request is a delay in ms; echoes it after that long), Fail (answers
// NOT_FOUND "no order <request>").
// h2c: /echo streams the body back with trailer x-echo-bytes; /slow answers "slow" after 600 ms; /hang
// answers headers and then nothing;
// /reset sends headers and a chunk, then resets the stream (INTERNAL_ERROR); /closed lists the RST_STREAM
// codes of the /hang streams that ended; anything else answers JSON about the request with trailer x-done.
import { createServer as createH2Server, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { ordersService } from './grpc-orders.js';

const name = process.argv[2] ?? 'backend';

const server = new grpc.Server();
server.addService(ordersService, {
  Get: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
    cb(null, Buffer.from(JSON.stringify({ instance: name, got: call.request.toString(), authority: call.metadata.get(':authority')[0] ?? null })));
  },
  List: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
    const n = Number(call.request.toString());
    for (let i = 0; i < n; i++) call.write(Buffer.from(`${name}:${i}`));
    call.end();
  },
  Slow: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
    setTimeout(() => cb(null, call.request), Number(call.request.toString()));
  },
  Fail: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
    cb({ code: grpc.status.NOT_FOUND, details: `no order ${call.request.toString()}` });
  },
});

const hangClosed: number[] = [];
const h2 = createH2Server();
h2.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
  stream.on('error', () => undefined);
  switch (headers[':path']) {
    case '/hang':
      stream.respond({ ':status': 200, 'x-instance': name });
      stream.on('close', () => hangClosed.push(stream.rstCode ?? -1));
      return;
    case '/reset':
      stream.respond({ ':status': 200, 'x-instance': name });
      // destroy() resets at once (INTERNAL_ERROR); close(code) would first end the stream cleanly.
      stream.write('partial', () => setTimeout(() => stream.destroy(new Error('reset by the backend')), 20));
      return;
    case '/slow':
      setTimeout(() => { if (!stream.closed) { stream.respond({ ':status': 200, 'x-instance': name }); stream.end('slow'); } }, 600);
      return;
    case '/closed':
      stream.respond({ ':status': 200, 'content-type': 'application/json' });
      stream.end(JSON.stringify(hangClosed));
      return;
  }
  if (headers[':path'] === '/echo') {
    let n = 0;
    stream.respond({ ':status': 200, 'content-type': 'application/octet-stream', 'x-instance': name }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'x-echo-bytes': String(n) }));
    stream.on('data', (c: Buffer) => { n += c.length; });
    stream.pipe(stream);
    return;
  }
  stream.respond({ ':status': 200, 'content-type': 'application/json', 'x-instance': name }, { waitForTrailers: true });
  stream.on('wantTrailers', () => stream.sendTrailers({ 'x-done': 'yes' }));
  stream.end(JSON.stringify({ instance: name, method: headers[':method'], path: headers[':path'], authority: headers[':authority'], headers }));
});

server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, grpcPort) => {
  if (err !== null) throw err;
  h2.listen(0, '127.0.0.1', () => {
    process.stdout.write(`listening grpc=${grpcPort} h2=${(h2.address() as { port: number }).port}\n`);
  });
});
process.on('SIGTERM', () => { server.forceShutdown(); h2.close(); process.exit(0); });
