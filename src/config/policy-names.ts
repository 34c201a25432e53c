// The load-balancing policies a service may name in its config (implemented in src/proxy/balancer).
export type PolicyName = 'round-robin' | 'random' | 'weighted' | 'least-request' | 'peak-ewma' | 'consistent-hash';

export const POLICY_NAMES: readonly PolicyName[] = ['round-robin', 'random', 'weighted', 'least-request', 'peak-ewma', 'consistent-hash'];
