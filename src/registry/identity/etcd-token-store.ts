// Bootstrap tokens in etcd, under <prefix>/tokens/<id> (JSON, hash only), shared by every daemon on the prefix.
// Reads go to etcd (tokens are read once per first issuance, not per request); changes are transactions on
// the key's mod revision, retried when another daemon changed the token first, so a single-use token is spent
// exactly once across the cluster.
import type { Etcd3 } from 'etcd3';
import { MeshError } from '../../core/errors.js';
import { rangePrefix } from '../store/etcd/client.js';
import type { TokenStore } from './token-store.js';
import type { TokenRecord } from './tokens.js';

export function tokensPrefix(prefix: string): string {
  return `${prefix}/tokens/`;
}

/** Runs one etcd call, turning its failure into the error an API caller should see (the store's rules). */
export type EtcdCall = <T>(what: string, call: () => Promise<T>) => Promise<T>;

export class EtcdTokenStore implements TokenStore {
  constructor(private readonly prefix: string, private readonly client: () => Etcd3, private readonly etcd: EtcdCall) {}

  async list(): Promise<TokenRecord[]> {
    const client = this.client();
    const { kvs } = await this.etcd('list tokens', () => rangePrefix(client, tokensPrefix(this.prefix)));
    return kvs.map((kv) => decode(kv.value)).filter((t): t is TokenRecord => t !== undefined).sort((a, b) => (a.createdAt - b.createdAt) || (a.id < b.id ? -1 : 1));
  }

  async get(id: string): Promise<TokenRecord | undefined> {
    return (await this.read(id))?.record;
  }

  async create(record: TokenRecord): Promise<void> {
    const client = this.client();
    const key = Buffer.from(this.key(record.id));
    const res = await this.etcd('store a token', () => client.kv.txn({
      compare: [{ key, target: 'Create', result: 'Equal', create_revision: '0' }],
      success: [{ request_put: { key, value: Buffer.from(JSON.stringify(record)) } }],
    }));
    if (!res.succeeded) throw new MeshError('MESH_ERR_INTERNAL', `token id ${record.id} already exists`);
  }

  async update(id: string, change: (current: TokenRecord) => TokenRecord): Promise<TokenRecord | undefined> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const cur = await this.read(id);
      if (cur === undefined) return undefined;
      const next = change(cur.record);
      const client = this.client();
      const key = Buffer.from(this.key(id));
      const res = await this.etcd('update a token', () => client.kv.txn({
        compare: [{ key, target: 'Mod', result: 'Equal', mod_revision: cur.modRevision }],
        success: [{ request_put: { key, value: Buffer.from(JSON.stringify(next)) } }],
      }));
      if (res.succeeded) return next;
    }
    throw new MeshError('MESH_ERR_INTERNAL', `token ${id} kept changing under concurrent writers; try again`);
  }

  private key(id: string): string {
    return `${tokensPrefix(this.prefix)}${id}`;
  }

  private async read(id: string): Promise<{ record: TokenRecord; modRevision: string } | undefined> {
    const client = this.client();
    const res = await this.etcd('read a token', () => client.kv.range({ key: Buffer.from(this.key(id)) }));
    const kv = res.kvs[0];
    const record = kv === undefined ? undefined : decode(kv.value);
    return record === undefined ? undefined : { record, modRevision: String(kv!.mod_revision) };
  }
}

function decode(value: Buffer): TokenRecord | undefined {
  try {
    const t = JSON.parse(value.toString('utf8')) as TokenRecord;
    return typeof t?.id === 'string' && typeof t.hash === 'string' && typeof t.service === 'string' ? t : undefined;
  } catch {
    return undefined;
  }
}
