/**
 * Why a token was refused. Stable strings: gateways log them and tests assert them.
 */
export type AuthErrorReason =
  | 'missing-token'
  | 'malformed'
  | 'bad-signature'
  | 'unsupported-algorithm'
  | 'expired'
  | 'not-yet-valid'
  | 'wrong-issuer'
  | 'bad-type'
  | 'unknown-key'
  | 'missing-claim'
  | 'insufficient-scope'
  | 'key-source-unavailable';

const defaultMessages: Record<AuthErrorReason, string> = {
  'missing-token': 'no access token was given',
  malformed: 'the access token is not a well-formed JWT',
  'bad-signature': 'the access token signature does not verify',
  'unsupported-algorithm': 'the access token is signed with an algorithm that is not accepted',
  expired: 'the access token has expired',
  'not-yet-valid': 'the access token is not valid yet',
  'wrong-issuer': 'the access token was issued by an unexpected issuer',
  'bad-type': 'the access token has an unexpected type',
  'unknown-key': 'the access token is signed by an unknown key',
  'missing-claim': 'the access token lacks a required claim',
  'insufficient-scope': 'the access token does not grant the required scope',
  'key-source-unavailable': 'the signing keys could not be loaded',
};

/**
 * A refused token. `status` is what an HTTP edge answers: 403 when the caller is authenticated
 * but not allowed, 401 otherwise. The message never contains the token, so it is safe to log.
 */
export class AuthError extends Error {
  readonly reason: AuthErrorReason;
  readonly status: 401 | 403;

  constructor(reason: AuthErrorReason, message: string = defaultMessages[reason]) {
    super(message);
    this.name = 'AuthError';
    this.reason = reason;
    this.status = reason === 'insufficient-scope' ? 403 : 401;
  }
}
