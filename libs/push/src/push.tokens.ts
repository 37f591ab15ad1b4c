export const PUSH_CONFIG = Symbol('PUSH_CONFIG');
export const PUSH_DATABASE = Symbol('PUSH_DATABASE');
export const PUSH_QUEUE = Symbol('PUSH_QUEUE');
export const USER_TOKEN_VERIFIER = Symbol('USER_TOKEN_VERIFIER');
