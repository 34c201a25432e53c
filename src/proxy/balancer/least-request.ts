// Least request by power of two choices on in-flight requests (Envoy's LEAST_REQUEST, Finagle's P2C):
// the load compared is inFlight / weight, and the two candidates are drawn by weight, so weights are honoured
// both when idle (exact split) and under load (a weight-300 endpoint is expected to carry 3× the requests).
import type { Random } from '../../core/clock.js';
import { PowerOfTwoChoices } from './p2c.js';
import type { BalancerEndpoint, BalancerPolicy } from './policy.js';

export class LeastRequestPolicy extends PowerOfTwoChoices implements BalancerPolicy {
  readonly name = 'least-request' as const;

  constructor(random: Random) { super(random); }

  protected load(endpoint: BalancerEndpoint): number {
    return endpoint.inFlight;
  }

  protected now(): number {
    return 0; // in-flight counts need no clock
  }
}
