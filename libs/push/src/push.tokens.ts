export const PUSH_CONFIG = Symbol('PUSH_CONFIG');
export const PUSH_DATABASE = Symbol('PUSH_DATABASE');
export const USER_TOKEN_VERIFIER = Symbol('USER_TOKEN_VERIFIER');
/** The clock (milliseconds since the epoch) of time-based limits; optional, Date.now by default. */
export const PUSH_CLOCK = Symbol('PUSH_CLOCK');
