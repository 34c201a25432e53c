// A real etcd cluster on loopback for the chaos run: N members, each on its own client and peer port, each one
// killable (kill -9, then started again on its data dir), freezable (SIGSTOP/SIGCONT) and asked who leads.
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { findEtcd } from './etcd.js';
import { freePort, tempDir } from './mesh.js';

export interface EtcdMember {
  name: string;
  url: string;
  readonly pid: number;
  running(): boolean;
  /** kill -9 (no clean shutdown). */
  kill(): Promise<void>;
  /** Starts it again on its data dir; resolves once its process runs (not waiting for the cluster). */
  start(): void;
  freeze(): void;
  thaw(): void;
}

export interface EtcdCluster {
  members: EtcdMember[];
  endpoints: string[];
  /** The member that leads now, asked of every running member (undefined during an election). */
  leader(): Promise<EtcdMember | undefined>;
  /** Resolves once every member reports the same leader (the cluster has quorum and agrees). */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Resolves once the running members agree on a leader (a majority is up). */
  waitQuorum(timeoutMs?: number): Promise<void>;
  destroy(): Promise<void>;
}

export async function startEtcdCluster(size = 3): Promise<EtcdCluster> {
  const bin = findEtcd();
  if (bin === undefined) throw new Error('etcd is not installed');
  const dir = tempDir('mesh-etcd-cluster-');
  const used = new Set<number>();
  const port = async () => { let p = await freePort(); while (used.has(p)) p = await freePort(); used.add(p); return p; };
  const specs: { name: string; url: string; peer: string }[] = [];
  for (let i = 1; i <= size; i++) specs.push({ name: `e${i}`, url: `http://127.0.0.1:${await port()}`, peer: `http://127.0.0.1:${await port()}` });
  const initialCluster = specs.map((s) => `${s.name}=${s.peer}`).join(',');
  const members = specs.map((spec): EtcdMember => {
    let child: ChildProcess | undefined;
    const args = [
      '--name', spec.name, '--data-dir', join(dir.path, spec.name),
      '--listen-client-urls', spec.url, '--advertise-client-urls', spec.url,
      '--listen-peer-urls', spec.peer, '--initial-advertise-peer-urls', spec.peer,
      '--initial-cluster', initialCluster, '--initial-cluster-state', 'new', '--initial-cluster-token', 'mesh-chaos',
      '--log-level', 'error', '--logger', 'zap',
    ];
    const running = () => child !== undefined && child.exitCode === null && child.signalCode === null;
    return {
      name: spec.name,
      url: spec.url,
      get pid() { return child?.pid ?? 0; },
      running,
      start() { child = spawn(bin, args, { stdio: 'ignore' }); },
      async kill() {
        const c = child;
        if (!c || !running()) return;
        const exited = new Promise((r) => c.once('exit', r));
        c.kill('SIGCONT');
        c.kill('SIGKILL');
        await exited;
      },
      freeze() { child?.kill('SIGSTOP'); },
      thaw() { child?.kill('SIGCONT'); },
    };
  });
  for (const m of members) m.start();
  const cluster: EtcdCluster = {
    members,
    endpoints: members.map((m) => m.url),
    async leader() {
      const answers = await Promise.all(members.filter((m) => m.running()).map(async (m) => ({ m, s: await memberStatus(m.url) })));
      const ids = new Set(answers.map((a) => a.s?.leader).filter(Boolean));
      if (ids.size !== 1) return undefined;
      const id = [...ids][0];
      return answers.find((a) => a.s?.memberId === id)?.m;
    },
    async waitHealthy(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const s = await Promise.all(members.map((m) => memberStatus(m.url)));
        if (s.every((x) => x && x.leader && x.leader !== '0' && x.leader === s[0]!.leader)) return;
        if (Date.now() > deadline) throw new Error(`the etcd cluster did not agree on a leader within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async waitQuorum(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!(await cluster.leader())) {
        if (Date.now() > deadline) throw new Error(`the running etcd members did not agree on a leader within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async destroy() {
      for (const m of members) await m.kill();
      dir.cleanup();
    },
  };
  await cluster.waitHealthy();
  return cluster;
}

/** POST /v3/maintenance/status on etcd's JSON gateway: this member's id and the leader it knows of. */
function memberStatus(url: string): Promise<{ memberId: string; leader: string } | undefined> {
  return new Promise((resolve) => {
    const req = request(`${url}/v3/maintenance/status`, { method: 'POST', timeout: 1_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => { body += d; }).on('end', () => {
        try {
          const j = JSON.parse(body) as { header?: { member_id?: string }; leader?: string };
          resolve(j.header?.member_id ? { memberId: j.header.member_id, leader: j.leader ?? '0' } : undefined);
        } catch { resolve(undefined); }
      });
    });
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => { req.destroy(); resolve(undefined); });
    req.end('{}');
  });
}
