export * from './access-token';
export * from './auth.error';
export { type VerifiedClaims } from './claims';
export { type KeySourceOptions } from './key-source';
export * from './policy';
export * from './token-verifier';
