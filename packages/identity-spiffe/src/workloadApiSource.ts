// The workload identity from the SPIFFE Workload API (a SPIRE agent) over gRPC: FetchX509SVID streams
// the full set of SVIDs whenever one rotates. No TLS (the socket is the trust), but every call must
// carry the `workload.spiffe.io: true` metadata, and every SVID is still verified against its bundle.
// See: https://github.com/spiffe/spiffe/blob/main/standards/SPIFFE_Workload_Endpoint.md
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { isIP } from 'node:net';
import { type ClientReadableStream, Client, credentials, Metadata, status as grpcStatus } from '@grpc/grpc-js';
import type { Certificate } from './certificate.js';
import { splitConcatenatedDer } from './der.js';
import { makeHeldIdentity, tell, type WorkloadIdentitySource } from './heldIdentity.js';
import { isTrustDomainName, type SpiffeId } from './spiffeId.js';
import { type SvidProblem, type VerifiedSvid, verifyDerSvid } from './verifyX509Svid.js';
import { WORKLOAD_API_HEADER, workloadApiDefinition, type X509SvidResponse } from './workloadApiProto.js';

export interface WorkloadApiConfig {
  /** `unix:///absolute/path` or `tcp://ip:port`; default the `SPIFFE_ENDPOINT_SOCKET` environment variable. */
  readonly socket?: string;
  /** A trust domain name such as `example.org`; when set, SVIDs of any other are refused. */
  readonly trustDomain?: string;
  /** How long to wait for the first valid SVID; default 10,000 ms. */
  readonly timeoutMs?: number;
  readonly now?: () => Date;
  /** Told of each refused SVID, and once per outage when the stream fails or ends. */
  readonly onProblem?: (problem: SvidProblem | 'workload-api-unavailable') => void;
  /** Told when a new SVID replaces the held one (not for the first, which the returned promise stands for). */
  readonly onRotate?: (id: SpiffeId) => void;
}

const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 10_000;

/**
 * The grpc-js target for a Workload API address, or undefined if the Workload Endpoint spec (§4) does
 * not allow it: `unix:` with an absolute path and nothing else, or `tcp:` with an IP address and a port.
 */
export const workloadApiTarget = (address: string): string | undefined => {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return undefined;
  }
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') return undefined;
  if (url.protocol === 'unix:') {
    if (url.host !== '' || !url.pathname.startsWith('/') || url.pathname.length < 2) return undefined;
    try {
      return `unix://${decodeURIComponent(url.pathname)}`;
    } catch {
      return undefined;
    }
  }
  if (url.protocol === 'tcp:') {
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const family = isIP(host);
    if (family === 0 || url.port === '' || (url.pathname !== '' && url.pathname !== '/')) return undefined;
    return family === 4 ? `ipv4:${host}:${url.port}` : `ipv6:[${host}]:${url.port}`;
  }
  return undefined;
};

/** Whether `pkcs8` is the private key of `leaf`; an unreadable key is not. */
const keyMatchesLeaf = (pkcs8: Buffer, leaf: Certificate): boolean => {
  try {
    const fromKey = createPublicKey(createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' })).export({ type: 'spki', format: 'der' });
    return fromKey.equals(leaf.x509.publicKey.export({ type: 'spki', format: 'der' }));
  } catch {
    return false;
  }
};

type Outcome = { readonly ok: true; readonly svid: VerifiedSvid } | { readonly ok: false; readonly problem: SvidProblem };

/** The first SVID of a response, verified against its own bundle, with its key checked against the leaf. */
const verifyResponse = (response: X509SvidResponse, now: Date, trustDomain: string | undefined): Outcome => {
  const svid = response.svids[0];
  if (svid === undefined) return { ok: false, problem: 'no-certificate' };
  const chain = splitConcatenatedDer(svid.x509_svid);
  const bundle = splitConcatenatedDer(svid.bundle);
  if (chain === undefined || bundle === undefined) return { ok: false, problem: 'unreadable' };
  const outcome = verifyDerSvid({ chain, bundle, now, trustDomain });
  if (outcome.ok && !keyMatchesLeaf(svid.x509_svid_key, outcome.svid.leaf)) return { ok: false, problem: 'private-key-mismatch' };
  return outcome;
};

/**
 * The SPIFFE Workload API over gRPC: FetchX509SVID with the `workload.spiffe.io: true` metadata. The
 * first SVID of each message is verified against its bundle (and its key against its leaf) and, if
 * good, becomes current(). A stream that ends or fails is reopened with backoff (100 ms doubling to
 * 10 s), except after InvalidArgument, which the spec says not to retry. Resolves once the first
 * valid SVID arrives; rejects with a fixed text, naming the last problem code, after `timeoutMs`.
 * Private keys are not kept: each is zeroed once checked.
 */
export const workloadApiSource = (config: WorkloadApiConfig = {}): Promise<WorkloadIdentitySource> =>
  new Promise((resolve, reject) => {
    const address = config.socket ?? process.env['SPIFFE_ENDPOINT_SOCKET'];
    if (address === undefined || address === '') {
      reject(new Error('No SPIFFE Workload API address: set SPIFFE_ENDPOINT_SOCKET or pass socket.'));
      return;
    }
    const target = workloadApiTarget(address);
    if (target === undefined) {
      reject(new Error('The SPIFFE Workload API address must be unix:///absolute/path or tcp://ip:port.'));
      return;
    }
    const timeoutMs = config.timeoutMs ?? 10_000;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 3_600_000) {
      reject(new RangeError('Workload API: timeoutMs must be an integer from 1 to 3,600,000.'));
      return;
    }
    if (config.trustDomain !== undefined && !isTrustDomainName(config.trustDomain)) {
      reject(new RangeError('Workload API: trustDomain must be a trust domain name such as example.org.'));
      return;
    }
    const now = config.now ?? (() => new Date());
    const method = workloadApiDefinition().fetchX509Svid;
    const identity = makeHeldIdentity(now);
    const client = new Client(target, credentials.createInsecure());

    let started = false;
    let closed = false;
    let call: ClientReadableStream<X509SvidResponse> | undefined;
    let retry: NodeJS.Timeout | undefined;
    let retryMs = FIRST_RETRY_MS;
    let outageTold = false;
    let lastProblem: SvidProblem | 'workload-api-unavailable' | undefined;

    const stop = (): void => {
      closed = true;
      clearTimeout(startDeadline);
      if (retry !== undefined) clearTimeout(retry);
      call?.cancel();
      client.close();
      identity.release();
    };
    const fail = (message: string): void => {
      stop();
      reject(new Error(message));
    };
    const problem = (code: SvidProblem | 'workload-api-unavailable'): void => {
      lastProblem = code;
      tell(config.onProblem, code);
    };
    const source: WorkloadIdentitySource = {
      current: identity.current,
      close: async () => {
        if (!closed) stop();
      },
    };

    const receive = (response: X509SvidResponse): void => {
      retryMs = FIRST_RETRY_MS;
      outageTold = false;
      const outcome = verifyResponse(response, now(), config.trustDomain);
      for (const svid of response.svids) svid.x509_svid_key.fill(0);
      if (!outcome.ok) {
        problem(outcome.problem);
        return;
      }
      const rotated = identity.hold(outcome.svid);
      if (!started) {
        started = true;
        clearTimeout(startDeadline);
        resolve(source);
      } else if (rotated) {
        tell(config.onRotate, outcome.svid.spiffeId);
      }
    };

    const connect = (): void => {
      if (closed) return;
      const metadata = new Metadata();
      metadata.set(WORKLOAD_API_HEADER, 'true');
      const stream = client.makeServerStreamRequest(method.path, method.requestSerialize, method.responseDeserialize, {}, metadata);
      call = stream;
      stream.on('data', (response: X509SvidResponse) => {
        if (!closed && call === stream) receive(response);
      });
      // Failures arrive as 'status' too; this listener only keeps 'error' from being thrown.
      stream.on('error', () => undefined);
      stream.on('status', ({ code }: { code: grpcStatus }) => {
        if (closed || call !== stream) return;
        call = undefined;
        if (!outageTold) {
          outageTold = true;
          problem('workload-api-unavailable');
        }
        if (code === grpcStatus.INVALID_ARGUMENT) {
          if (!started) fail('The SPIFFE Workload API refused the request as invalid (InvalidArgument).');
          return;
        }
        retry = setTimeout(connect, retryMs);
        retry.unref();
        retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
      });
    };

    const startDeadline = setTimeout(() => {
      fail(`No valid X.509-SVID from the SPIFFE Workload API within ${timeoutMs} ms (last problem: ${lastProblem ?? 'none'}).`);
    }, timeoutMs);
    connect();
  });
