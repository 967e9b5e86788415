// The SVID an identity source holds, read against the clock on every call: an SVID that expires while
// no rotation arrives stops counting at once, with no timer to miss.
import type { SpiffeId } from './spiffeId.js';
import type { VerifiedSvid } from './verifyX509Svid.js';

/** The workload's current identity, kept fresh. */
export interface WorkloadIdentitySource {
  /**
   * The verified SPIFFE ID now, or undefined when there is no valid SVID: never loaded, expired, or
   * the latest rotation was refused and the SVID held before it has since expired; also after close.
   */
  readonly current: () => SpiffeId | undefined;
  readonly close: () => Promise<void>;
}

export interface HeldIdentity {
  readonly current: () => SpiffeId | undefined;
  /** Holds `svid` in place of the one held before; true if its leaf is a different certificate. */
  readonly hold: (svid: VerifiedSvid) => boolean;
  /** True once, when the held SVID is found expired; false again after the next hold. */
  readonly newlyExpired: () => boolean;
  readonly release: () => void;
}

export const makeHeldIdentity = (now: () => Date): HeldIdentity => {
  let held: VerifiedSvid | undefined;
  let released = false;
  let expiryTold = false;
  return {
    current: () => {
      if (released || held === undefined) return undefined;
      const at = now().getTime();
      return at >= held.notBefore.getTime() && at <= held.notAfter.getTime() ? held.spiffeId : undefined;
    },
    hold: (svid) => {
      const rotated = held === undefined || !held.leaf.der.equals(svid.leaf.der);
      held = svid;
      expiryTold = false;
      return rotated;
    },
    newlyExpired: () => {
      if (held === undefined || expiryTold || now().getTime() <= held.notAfter.getTime()) return false;
      expiryTold = true;
      return true;
    },
    release: () => {
      released = true;
      held = undefined;
    },
  };
};

/** Calls a listener; a listener's own failure must not stop the identity source that told it. */
export const tell = <A>(listener: ((value: A) => void) | undefined, value: A): void => {
  try {
    listener?.(value);
  } catch {
    // Deliberately dropped: the source keeps running, and the value is not ours to log.
  }
};
