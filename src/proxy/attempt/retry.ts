// When a failed try may be retried on another endpoint. Pure decisions; the budget that stops retries from
// multiplying load during an outage lives in retry-budget.ts and is asked last (see AttemptController.canRetry in controller.ts).

/** What went wrong with a try, as far as retrying is concerned. */
export type FailureKind = 'connect' | 'reset' | 'status-503' | 'timeout' | 'other';

const CONNECT_CODES = new Set([
  'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_CONNECT',
]);
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'ECONNABORTED']);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

export function classifyFailure(err: Error): FailureKind {
  const code = (err as NodeJS.ErrnoException).code;
  if (code !== undefined) {
    if (CONNECT_CODES.has(code)) return 'connect';
    if (RESET_CODES.has(code)) return 'reset';
    if (TIMEOUT_CODES.has(code)) return 'timeout';
  }
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof Error && cause !== err) return classifyFailure(cause);
  return 'other';
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/** Whether a method is idempotent (RFC 9110 §9.2.2): a try that may have reached the app can be repeated. */
export function isIdempotent(method: string): boolean {
  return IDEMPOTENT.has(method);
}

/**
 * Whether a try that failed this way may be retried.
 * - A connect failure never reached the upstream: always safe (the body was never read).
 * - A reset before the response, or a 503, may have reached the application: retried for idempotent methods,
 *   and for others only when the route is marked retryable; either way only while the request body is
 *   untouched, since a streamed body cannot be replayed.
 * - Timeouts are not retried: a slow upstream made slower by more load is how outages spread.
 */
export function mayRetry(kind: FailureKind, idempotent: boolean, bodyTouched: boolean, routeRetryable: boolean): boolean {
  switch (kind) {
    case 'connect':
      return !bodyTouched;
    case 'reset':
    case 'status-503':
      return !bodyTouched && (idempotent || routeRetryable);
    default:
      return false;
  }
}

/**
 * The same question for a gRPC call: a gRPC method is not known to be idempotent, so only a call that never
 * reached a server (a connect failure, REFUSED_STREAM) is retried, and only while its body is untouched.
 */
export function mayRetryGrpc(kind: FailureKind, bodyTouched: boolean): boolean {
  return kind === 'connect' && !bodyTouched;
}
