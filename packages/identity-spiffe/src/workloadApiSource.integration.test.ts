// workloadApiSource against a Workload API written here (same proto, @grpc/grpc-js, a unix socket in a
// temp dir) that, like SPIRE, answers InvalidArgument without the `workload.spiffe.io` header: the
// source follows rotations, reconnects, refuses bad SVIDs, and gives up after its timeout.
import { mkdtemp, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { derOf, type Issued, makeLeaf, makeRootCa, pkcs8Of } from '../test/pki.js';
import type { WorkloadIdentitySource } from './heldIdentity.js';
import type { SpiffeId } from './spiffeId.js';
import { workloadApiDefinition, type X509SvidRequest, type X509SvidResponse } from './workloadApiProto.js';
import { workloadApiSource, workloadApiTarget } from './workloadApiSource.js';

const NOW = new Date('2026-03-01T12:00:00Z');
const MINUTE = 60_000;
const at = (offsetMs: number) => new Date(NOW.getTime() + offsetMs);
const ID = 'spiffe://example.org/hipaa-fhir-mcp';
const ID_2 = 'spiffe://example.org/hipaa-fhir-mcp/blue';

const waitFor = async (condition: () => boolean, what: string): Promise<void> => {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

type Stream = grpc.ServerWritableStream<X509SvidRequest, X509SvidResponse>;

/** A Workload API endpoint: it records each FetchX509SVID call and lets the test write to its stream. */
interface FakeAgent {
  readonly address: string;
  /** Open streams, newest last; each saw the security header. */
  readonly streams: Stream[];
  readonly calls: { readonly header: string[]; cancelled: boolean }[];
  readonly stop: () => void;
}

let directory: string;
const agents: FakeAgent[] = [];
const sources: WorkloadIdentitySource[] = [];

const startAgent = async (onStream: (stream: Stream) => void = () => undefined, options: { refuseEverything?: boolean } = {}): Promise<FakeAgent> => {
  const socket = join(directory, `agent-${agents.length}.sock`);
  await unlink(socket).catch(() => undefined); // a stale socket makes bind fail with EADDRINUSE
  const streams: Stream[] = [];
  const calls: FakeAgent['calls'] = [];
  const server = new grpc.Server();
  server.addService(workloadApiDefinition().service, {
    FetchX509SVID: (stream: Stream) => {
      const header = stream.metadata.get('workload.spiffe.io').map(String);
      const call = { header, cancelled: false };
      calls.push(call);
      stream.on('cancelled', () => {
        call.cancelled = true;
      });
      if (options.refuseEverything === true || header.length !== 1 || header[0] !== 'true') {
        stream.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: 'missing workload.spiffe.io metadata' });
        return;
      }
      streams.push(stream);
      onStream(stream);
    },
  });
  const address = `unix://${socket}`;
  await new Promise<void>((resolve, reject) => server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error) => (error ? reject(error) : resolve())));
  const agent: FakeAgent = { address, streams, calls, stop: () => server.forceShutdown() };
  agents.push(agent);
  return agent;
};

const svidResponse = async (leaf: Issued, bundle: readonly Issued[], options: { key?: Issued; chain?: readonly Issued[] } = {}): Promise<X509SvidResponse> => ({
  svids: [
    {
      spiffe_id: leaf.cert.getExtension('2.5.29.17') === null ? '' : ID,
      x509_svid: derOf(leaf, ...(options.chain ?? [])),
      x509_svid_key: await pkcs8Of(options.key ?? leaf),
      bundle: derOf(...bundle),
      hint: '',
    },
  ],
  crl: [],
  federated_bundles: {},
});

let root: Issued;
let leaf: Issued;
let clock: Date;
let problems: string[];
let rotations: SpiffeId[];

const start = async (agent: FakeAgent, options: { timeoutMs?: number; trustDomain?: string } = {}) => {
  const source = await workloadApiSource({
    socket: agent.address,
    timeoutMs: options.timeoutMs ?? 5_000,
    now: () => clock,
    onProblem: (problem) => problems.push(problem),
    onRotate: (id) => rotations.push(id),
    ...(options.trustDomain === undefined ? {} : { trustDomain: options.trustDomain }),
  });
  sources.push(source);
  return source;
};

beforeAll(async () => {
  root = await makeRootCa(NOW);
  leaf = await makeLeaf(root, NOW, ID, { notAfter: at(30 * MINUTE) });
});

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'workload-api-'));
  clock = NOW;
  problems = [];
  rotations = [];
});

afterEach(async () => {
  await Promise.all(sources.splice(0).map((source) => source.close()));
  for (const agent of agents.splice(0)) agent.stop();
  vi.unstubAllEnvs();
  await rm(directory, { recursive: true, force: true });
});

describe('the fake Workload API', () => {
  it('answers InvalidArgument to a call without the workload.spiffe.io header', async () => {
    const agent = await startAgent();
    const client = new grpc.Client(agent.address, grpc.credentials.createInsecure());
    const { path, requestSerialize, responseDeserialize } = workloadApiDefinition().fetchX509Svid;
    const stream = client.makeServerStreamRequest(path, requestSerialize, responseDeserialize, {}, new grpc.Metadata());
    stream.on('error', () => undefined);
    const status = await new Promise<grpc.StatusObject>((resolve) => stream.on('status', resolve));
    client.close();
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(agent.calls.map((call) => call.header)).toStrictEqual([[]]);
  });
});

describe('workloadApiSource', () => {
  it('sends the header, takes the streamed SVID, and follows a rotated one', async () => {
    const first = await svidResponse(leaf, [root]);
    const agent = await startAgent((stream) => stream.write(first));
    const source = await start(agent, { trustDomain: 'example.org' });
    expect(source.current()).toBe(ID);
    expect(agent.calls).toStrictEqual([{ header: ['true'], cancelled: false }]);
    agent.streams[0]?.write(await svidResponse(await makeLeaf(root, NOW, ID_2), [root]));
    await waitFor(() => source.current() === ID_2, 'the rotated SVID');
    expect([rotations, problems]).toStrictEqual([[ID_2], []]);
  });

  it('reconnects after the stream ends, and takes what the new stream sends', async () => {
    const first = await svidResponse(leaf, [root]);
    const second = await svidResponse(await makeLeaf(root, NOW, ID_2), [root]);
    const agent = await startAgent((stream) => {
      if (agent.calls.length === 1) {
        stream.write(first);
        stream.end();
      } else {
        stream.write(second);
      }
    });
    const source = await start(agent);
    await waitFor(() => source.current() === ID_2, 'the SVID from the second stream');
    expect([agent.calls.length, rotations, problems]).toStrictEqual([2, [ID_2], ['workload-api-unavailable']]);
  });

  it('does not accept an SVID that its bundle does not vouch for, and waits for one it does', async () => {
    const stranger = await makeRootCa(NOW);
    const untrusted = await svidResponse(await makeLeaf(stranger, NOW, ID_2), [root]);
    const trusted = await svidResponse(leaf, [root]);
    const agent = await startAgent((stream) => stream.write(untrusted));
    const pending = start(agent);
    await waitFor(() => problems.length > 0, 'the refusal');
    expect(problems).toStrictEqual(['untrusted-chain']);
    agent.streams[0]?.write(trusted);
    const source = await pending;
    expect([source.current(), rotations]).toStrictEqual([ID, []]);
  });

  it('gives up after timeoutMs when no SVID it can accept arrives, naming the last problem', async () => {
    const stranger = await makeRootCa(NOW);
    const untrusted = await svidResponse(await makeLeaf(stranger, NOW, ID), [root]);
    const wrongKey = await svidResponse(leaf, [root], { key: stranger });
    const agent = await startAgent((stream) => stream.write(agent.calls.length === 1 ? untrusted : wrongKey));
    await expect(start(agent, { timeoutMs: 300 })).rejects.toThrow(
      new Error('No valid X.509-SVID from the SPIFFE Workload API within 300 ms (last problem: untrusted-chain).'),
    );
    const keyAgent = await startAgent((stream) => stream.write(wrongKey));
    await expect(start(keyAgent, { timeoutMs: 300 })).rejects.toThrow(/last problem: private-key-mismatch/);
    // Giving up closed the stream.
    await waitFor(() => agent.calls.every((call) => call.cancelled) && keyAgent.calls.every((call) => call.cancelled), 'the streams to close');
  });

  it('refuses an SVID from another trust domain when one is set', async () => {
    const other = await svidResponse(await makeLeaf(root, NOW, 'spiffe://other.org/hipaa-fhir-mcp'), [root]);
    const agent = await startAgent((stream) => stream.write(other));
    await expect(start(agent, { timeoutMs: 300, trustDomain: 'example.org' })).rejects.toThrow(/last problem: wrong-trust-domain/);
  });

  it('rejects after timeoutMs when the socket is missing', async () => {
    const began = Date.now();
    await expect(workloadApiSource({ socket: `unix://${join(directory, 'missing.sock')}`, timeoutMs: 200, onProblem: (problem) => problems.push(problem) })).rejects.toThrow(
      new Error('No valid X.509-SVID from the SPIFFE Workload API within 200 ms (last problem: workload-api-unavailable).'),
    );
    expect(Date.now() - began).toBeGreaterThanOrEqual(190);
    expect(problems).toStrictEqual(['workload-api-unavailable']); // told once per outage, not per retry
  });

  it('does not retry after InvalidArgument, as the spec says', async () => {
    const agent = await startAgent(undefined, { refuseEverything: true });
    const began = Date.now();
    await expect(start(agent, { timeoutMs: 5_000 })).rejects.toThrow(new Error('The SPIFFE Workload API refused the request as invalid (InvalidArgument).'));
    expect(Date.now() - began).toBeLessThan(2_000);
    await new Promise((resolve) => setTimeout(resolve, 300)); // longer than the first backoffs
    expect(agent.calls.length).toBe(1);
  });

  it('stops counting an expired SVID at once', async () => {
    const first = await svidResponse(leaf, [root]);
    const agent = await startAgent((stream) => stream.write(first));
    const source = await start(agent);
    clock = at(30 * MINUTE);
    expect(source.current()).toBe(ID);
    clock = at(30 * MINUTE + 1_000);
    expect(source.current()).toBeUndefined();
  });

  it('finds the socket in SPIFFE_ENDPOINT_SOCKET, and closes its stream on close', async () => {
    const first = await svidResponse(leaf, [root]);
    const agent = await startAgent((stream) => stream.write(first));
    vi.stubEnv('SPIFFE_ENDPOINT_SOCKET', agent.address);
    const source = await workloadApiSource({ now: () => clock });
    expect([source.current(), agent.calls]).toStrictEqual([ID, [{ header: ['true'], cancelled: false }]]);
    await source.close();
    expect(source.current()).toBeUndefined();
    await waitFor(() => agent.calls[0]?.cancelled === true, 'the agent to see the stream cancelled');
  });

  it('rejects a missing or malformed address at once', async () => {
    vi.stubEnv('SPIFFE_ENDPOINT_SOCKET', '');
    await expect(workloadApiSource()).rejects.toThrow(new Error('No SPIFFE Workload API address: set SPIFFE_ENDPOINT_SOCKET or pass socket.'));
    await expect(workloadApiSource({ socket: 'unix:relative.sock' })).rejects.toThrow(
      new Error('The SPIFFE Workload API address must be unix:///absolute/path or tcp://ip:port.'),
    );
    await expect(workloadApiSource({ socket: 'unix:///tmp/agent.sock', timeoutMs: 0 })).rejects.toThrow(RangeError);
  });
});

describe('workloadApiTarget', () => {
  it.each([
    ['unix:///run/spire/sockets/agent.sock', 'unix:///run/spire/sockets/agent.sock'],
    ['unix:/run/spire/sockets/agent.sock', 'unix:///run/spire/sockets/agent.sock'],
    ['tcp://127.0.0.1:8081', 'ipv4:127.0.0.1:8081'],
    ['tcp://[::1]:8081', 'ipv6:[::1]:8081'],
  ])('maps %s to %s', (address, target) => {
    expect(workloadApiTarget(address)).toBe(target);
  });

  it.each([
    'unix://host/run/agent.sock',
    'unix:relative.sock',
    'unix:///run/agent.sock?x=1',
    'unix:///run/agent.sock#x',
    'unix:///',
    'tcp://localhost:8081',
    'tcp://127.0.0.1',
    'tcp://127.0.0.1:8081/foo',
    'tcp://user@127.0.0.1:8081',
    'http://127.0.0.1:8081',
    '/run/agent.sock',
  ])('refuses %s', (address) => {
    expect(workloadApiTarget(address)).toBeUndefined();
  });
});
