// The SPIFFE Workload API's gRPC definitions, loaded at run time from proto/workload.proto (the spec's
// own file): relative to this module from src/ or dist/, or beside the server's single-file build.
import { fileURLToPath } from 'node:url';
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

/** One SVID of a FetchX509SVID response; bytes fields are DER. */
export interface X509SvidMessage {
  readonly spiffe_id: string;
  /** Leaf first, then intermediates, concatenated. */
  readonly x509_svid: Buffer;
  /** PKCS#8, unencrypted. */
  readonly x509_svid_key: Buffer;
  /** The trust domain's CA certificates, concatenated. */
  readonly bundle: Buffer;
  readonly hint: string;
}

export interface X509SvidResponse {
  readonly svids: readonly X509SvidMessage[];
  readonly crl: readonly Buffer[];
  readonly federated_bundles: Readonly<Record<string, Buffer>>;
}

export type X509SvidRequest = Record<string, never>;

export interface WorkloadApiDefinition {
  readonly service: ServiceDefinition;
  readonly fetchX509Svid: MethodDefinition<X509SvidRequest, X509SvidResponse>;
}

/** Metadata every Workload API call must carry (SPIFFE Workload Endpoint §3), against SSRF. */
export const WORKLOAD_API_HEADER = 'workload.spiffe.io';

// The single-file build copies the proto beside itself and names it here.
declare const __HFM_WORKLOAD_PROTO__: string | undefined;

let loaded: WorkloadApiDefinition | undefined;

/** The SpiffeWorkloadAPI service, loaded once. Field names keep the proto's snake_case; absent fields read as defaults. */
export const workloadApiDefinition = (): WorkloadApiDefinition => {
  if (loaded === undefined) {
    const protoPath = fileURLToPath(new URL(typeof __HFM_WORKLOAD_PROTO__ === 'string' ? __HFM_WORKLOAD_PROTO__ : '../proto/workload.proto', import.meta.url));
    const definitions = loadSync(protoPath, { keepCase: true, longs: String, enums: String, defaults: true, arrays: true, objects: true });
    const service = definitions['SpiffeWorkloadAPI'] as ServiceDefinition | undefined;
    const fetchX509Svid = service?.['FetchX509SVID'] as MethodDefinition<X509SvidRequest, X509SvidResponse> | undefined;
    if (service === undefined || fetchX509Svid === undefined) throw new Error('proto/workload.proto does not define SpiffeWorkloadAPI.FetchX509SVID.');
    loaded = { service, fetchX509Svid };
  }
  return loaded;
};
