// Reading FHIR through the PHI cache: each result is cached under the patient's HMAC and the HMAC of
// the query, so no id or code ever names an entry, and each call knows whether it was served from cache.
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import * as E from 'fp-ts/lib/Either.js';
import * as O from 'fp-ts/lib/Option.js';
import type * as TE from 'fp-ts/lib/TaskEither.js';
import * as t from 'io-ts';
import type { DataSource, ToolName } from './AuditRecord.js';
import type { FhirError } from './errors.js';
import type { HmacKey, PatientIdHmac } from './PatientIdHmac.js';
import type { CacheSlot, PhiCache } from './ports.js';

interface QueryHmacBrand {
  readonly QueryHmac: unique symbol;
}
/** The HMAC of one cached query, as 64 lowercase hex characters. */
export const QueryHmac = t.brand(t.string, (s): s is t.Branded<string, QueryHmacBrand> => /^[0-9a-f]{64}$/.test(s), 'QueryHmac');
export type QueryHmac = t.TypeOf<typeof QueryHmac>;

/** What a use case reads besides the patient: its tool, then every argument the result depends on. */
export type CacheQuery = readonly [ToolName, ...(string | number)[]];

/**
 * HMAC-SHA-256(key, "hipaa-fhir-mcp cache v2" NUL partition NUL patient HMAC NUL JSON of the query).
 * The patient is in it so that the same query for two patients gets unrelated names, the partition so
 * that two FHIR sources never share an entry; "v2" changes with a cached shape.
 */
export const hmacCacheQuery = (key: HmacKey, partition: string, patient: PatientIdHmac, query: CacheQuery): QueryHmac =>
  bytesToHex(hmac(sha256, key.bytes, utf8ToBytes(`hipaa-fhir-mcp cache v2\u0000${partition}\u0000${patient}\u0000${JSON.stringify(query)}`))) as QueryHmac;

/** A read a use case makes: served from the cache on a hit, else by `fetch` (and then cached). */
export type ReadThrough = <A>(query: CacheQuery, fetch: TE.TaskEither<FhirError, A>) => TE.TaskEither<FhirError, A>;

/**
 * One call's reads through `cache`, for `patient` (null: the call names none, so nothing is cached).
 * `source` says where the call's data came from: `cache` only if every read was a hit.
 * A cache that throws is a defect, reported, and a miss; the call goes on against FHIR.
 */
export const readThroughFor = (
  cache: PhiCache | undefined,
  key: HmacKey,
  patient: PatientIdHmac | null,
  onDefect: (defect: unknown) => void,
): { readonly readThrough: ReadThrough; readonly source: () => DataSource } => {
  let hits = 0;
  let fhirReads = 0;
  const fromFhir = <A>(fetch: TE.TaskEither<FhirError, A>): Promise<E.Either<FhirError, A>> => {
    fhirReads += 1;
    return fetch();
  };
  const readThrough: ReadThrough = (query, fetch) => async () => {
    if (cache === undefined || patient === null) return fromFhir(fetch);
    const slot: CacheSlot = { patient, query: hmacCacheQuery(key, cache.partition, patient, query) };
    try {
      const cached = await cache.read(slot)();
      if (O.isSome(cached)) {
        // Entries are authenticated (the adapter's AEAD), written only below from the same type.
        const value: unknown = JSON.parse(cached.value);
        hits += 1;
        return E.right(value as never);
      }
    } catch (defect) {
      onDefect(defect);
    }
    const fetched = await fromFhir(fetch);
    if (E.isRight(fetched)) {
      try {
        await cache.write(slot, JSON.stringify(fetched.right))();
      } catch (defect) {
        onDefect(defect);
      }
    }
    return fetched;
  };
  return { readThrough, source: () => (hits > 0 && fhirReads === 0 ? 'cache' : 'fhir') };
};
