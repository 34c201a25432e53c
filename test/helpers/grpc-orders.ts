// The gRPC service the HTTP/2 proxy tests use, defined in code with raw Buffer messages (no .proto file),
// and a client for it: `ordersClient('127.0.0.1:15001', 'orders')` calls through the proxy with `orders` as
// the :authority, which is how a gRPC client names a mesh service.
import * as grpc from '@grpc/grpc-js';

const raw = { serialize: (b: Buffer) => b, deserialize: (b: Buffer) => b };

function method(name: string, responseStream: boolean): grpc.MethodDefinition<Buffer, Buffer> {
  return {
    path: `/mesh.test.Orders/${name}`,
    requestStream: false,
    responseStream,
    requestSerialize: raw.serialize,
    requestDeserialize: raw.deserialize,
    responseSerialize: raw.serialize,
    responseDeserialize: raw.deserialize,
  };
}

export const ordersService = {
  Get: method('Get', false),
  List: method('List', true),
  Slow: method('Slow', false),
  Fail: method('Fail', false),
} satisfies grpc.ServiceDefinition;

const OrdersClient = grpc.makeGenericClientConstructor(ordersService, 'Orders');

export interface Orders {
  get(request: string, timeoutMs?: number): Promise<Buffer>;
  fail(request: string): Promise<Buffer>;
  /** Answers after `ms` milliseconds. */
  slow(ms: number): Promise<Buffer>;
  list(count: number): Promise<string[]>;
  close(): void;
}

/** A client for `address` naming `authority`; plaintext h2c unless `credentials` (e.g. mTLS to a sidecar) are given. */
export function ordersClient(address: string, authority: string, credentials = grpc.credentials.createInsecure()): Orders {
  const client = new OrdersClient(address, credentials, { 'grpc.default_authority': authority }) as unknown as Record<string, (...args: unknown[]) => unknown> & grpc.Client;
  const unary = (m: string, request: string, timeoutMs = 10_000) => new Promise<Buffer>((resolve, reject) => {
    client[m]!(Buffer.from(request), new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err: grpc.ServiceError | null, res: Buffer) => {
      if (err !== null) reject(err); else resolve(res);
    });
  });
  return {
    get: (request, timeoutMs) => unary('Get', request, timeoutMs),
    fail: (request) => unary('Fail', request),
    slow: (ms) => unary('Slow', String(ms)),
    list: (count) => new Promise<string[]>((resolve, reject) => {
      const out: string[] = [];
      const call = client.List!(Buffer.from(String(count)), new grpc.Metadata(), { deadline: Date.now() + 10_000 }) as grpc.ClientReadableStream<Buffer>;
      call.on('data', (b: Buffer) => out.push(b.toString()));
      call.on('error', reject);
      call.on('end', () => resolve(out));
    }),
    close: () => client.close(),
  };
}
