// The faults the sandbox can inject, one per request, in the order queued: what real FHIR servers
// and the networks in front of them do (fail, stall, reset, redirect, lie about content, ignore params).

export type Fault =
  | { readonly kind: 'status'; readonly status: number; readonly retryAfterSeconds?: number }
  | { readonly kind: 'hang' }
  | { readonly kind: 'reset' }
  | { readonly kind: 'malformed-json' }
  /** A searchset whose `entry` is not an array. */
  | { readonly kind: 'malformed-bundle' }
  | { readonly kind: 'html-error-page' }
  /** The right answer, labelled text/plain. */
  | { readonly kind: 'wrong-content-type' }
  /** A 404 whose OperationOutcome (and a header) echo the request path, as many servers do. */
  | { readonly kind: 'not-found-echoing-path' }
  /** A 500 whose body and headers echo the full request URL, query included. */
  | { readonly kind: 'error-echoing-request' }
  | { readonly kind: 'redirect'; readonly location: string }
  /** A search page with a `next` link to another origin (whether or not more results exist). */
  | { readonly kind: 'foreign-next-link'; readonly origin: string }
  /** The right answer, padded with white space to `bytes`. */
  | { readonly kind: 'oversized'; readonly bytes: number }
  /** Answers a search as if the `patient` parameter had not been sent (everyone's data). */
  | { readonly kind: 'drop-patient-param' }
  /** Keeps the patient in the self link but answers with another patient's entries. */
  | { readonly kind: 'foreign-entries' }
  /** Answers a search as if `status` had not been sent. */
  | { readonly kind: 'ignore-status' }
  /** Answers a search in ascending date order, whatever `_sort` says. */
  | { readonly kind: 'ignore-sort' }
  /** Answers a Patient read with another patient. */
  | { readonly kind: 'wrong-patient' };

export type FaultKind = Fault['kind'];
