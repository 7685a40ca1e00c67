/**
 * IPAddressClaims: holding an address is one small object named by the address, created if
 * absent (after Kubernetes' own IPAddress objects, KEP-1880). Claims on different addresses
 * never conflict; a claim's create failing with AlreadyExists means the address is taken.
 */
import { addressName, parseAddress } from '../ip/index.js';
import { isAlreadyExists, isConflict } from './errors.js';
import { LABEL_CLAIM_ALLOCATION_UID, LABEL_CLAIM_POOL, LABEL_SERVICE_UID } from './keys.js';
import type { KubeObject, KubePort } from './port.js';
import { API_VERSION, type IPAddressClaim, type IPAddressClaimSpec } from './schemas.js';
import { getClaim } from './typed.js';

/** The name of an address's claim; undefined for text that is no address. */
export function claimNameOf(address: string): string | undefined {
  const p = parseAddress(address);
  return p.ok ? addressName(p.family, p.value) : undefined;
}

function claimObject(name: string, spec: IPAddressClaimSpec, serviceUID: string | undefined): KubeObject {
  return {
    apiVersion: API_VERSION,
    kind: 'IPAddressClaim',
    metadata: {
      name,
      labels: {
        [LABEL_CLAIM_POOL]: spec.poolName,
        [LABEL_CLAIM_ALLOCATION_UID]: spec.allocationUID,
        ...(serviceUID ? { [LABEL_SERVICE_UID]: serviceUID } : {}),
      },
    },
    spec,
  };
}

export type ClaimResult =
  | { claimed: true; claim: IPAddressClaim | undefined; created: boolean }
  | { claimed: false; holder: IPAddressClaim };

/**
 * Claims an address for an allocation: created if absent; if present and held by the same
 * allocation (a crash between the claim and the allocation's status, or a racing instance),
 * it is the allocation's; else the holder is returned. A claim deleted between the failed
 * create and the read is tried once more.
 */
export async function claimAddress(kube: KubePort, spec: IPAddressClaimSpec, serviceUID?: string): Promise<ClaimResult> {
  const name = claimNameOf(spec.address);
  if (name === undefined) throw new Error(`cannot claim "${spec.address}": not an address`);
  for (let attempt = 0; ; attempt++) {
    try {
      await kube.create('IPAddressClaim', claimObject(name, spec, serviceUID));
      return { claimed: true, claim: undefined, created: true };
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
    const holder = await getClaim(kube, name);
    if (holder?.spec.allocationUID === spec.allocationUID) return { claimed: true, claim: holder, created: false };
    if (holder) return { claimed: false, holder };
    if (attempt >= 1) throw new Error(`the claim of ${spec.address} keeps appearing and vanishing`);
  }
}

/** The claim of an address, if it is held by this allocation uid. */
export async function claimHeldBy(kube: KubePort, address: string, allocationUID: string): Promise<IPAddressClaim | undefined> {
  const name = claimNameOf(address);
  if (name === undefined) return undefined;
  const claim = await getClaim(kube, name);
  return claim?.spec.allocationUID === allocationUID ? claim : undefined;
}

/**
 * Frees an address: deletes its claim only if it is still the one given (uid precondition),
 * so a claim someone else made for the address meanwhile is never deleted. Absent is fine.
 */
export async function releaseClaim(kube: KubePort, claim: IPAddressClaim): Promise<void> {
  try {
    await kube.remove('IPAddressClaim', claim.metadata.name, undefined, claim.metadata.uid ? { uid: claim.metadata.uid } : undefined);
  } catch (e) {
    if (!isConflict(e)) throw e;
  }
}
