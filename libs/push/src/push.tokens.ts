export const PUSH_CONFIG = Symbol('PUSH_CONFIG');
export const PUSH_DATABASE = Symbol('PUSH_DATABASE');
/** The users' token strategy (`JwtStrategy`), or null when no token source is configured. */
export const USER_JWT_STRATEGY = Symbol('USER_JWT_STRATEGY');
/** The clock (milliseconds since the epoch) of time-based limits; optional, Date.now by default. */
export const PUSH_CLOCK = Symbol('PUSH_CLOCK');
/** Where Web Push endpoints may point (`WebPushEndpointPolicy`): checked at registration and on every push. */
export const WEB_PUSH_ENDPOINTS = Symbol('WEB_PUSH_ENDPOINTS');
