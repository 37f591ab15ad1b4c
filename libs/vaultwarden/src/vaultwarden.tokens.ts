/** The VaultwardenDatabase repository (one pool and the leader connection). */
export const VAULTWARDEN_DATABASE = Symbol('VaultwardenDatabase');
/** BridgeTimings: batch size, poll and retry intervals. */
export const BRIDGE_TIMINGS = Symbol('BridgeTimings');
