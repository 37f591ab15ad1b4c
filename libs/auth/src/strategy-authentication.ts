import { type IncomingMessage } from 'node:http';

import {
  createParamDecorator,
  type ExecutionContext,
  ForbiddenException,
  type HttpException,
  UnauthorizedException,
} from '@nestjs/common';
import { type Request } from 'express';
import passport from 'passport';
import { type Strategy } from 'passport-jwt';

import { AuthError } from './auth.error';
import { type BearerTokenVerification, refusalOf } from './bearer-token.verification';
import { type VerifiedClaims } from './claims';

/**
 * Runs `strategy` against `request` (an HTTP request, or the request of a WebSocket upgrade) through passport and resolves with the identity its
 * `validate` returned; rejects with an AuthError for every refusal, with any other error as is.
 *
 * Guards hold their strategy instance (built by the module's factory provider) instead of naming
 * it in passport's process-wide registry, so two apps in one process never swap strategies; each
 * request runs on its own `Object.create` of it because passport attaches the request's
 * success and fail callbacks to the object it is given.
 */
export function authenticateRequest<TIdentity>(
  strategy: Strategy,
  request: IncomingMessage,
): Promise<TIdentity> {
  return new Promise<TIdentity>((resolve, reject) => {
    const middleware = passport.authenticate(
      Object.create(strategy) as Strategy,
      { session: false },
      (error: unknown, identity: unknown, failure: unknown) => {
        if (error) {
          reject(error instanceof AuthError ? error : (error as Error));
        } else if (!identity) {
          reject(refusalOf(failure));
        } else {
          resolve(identity as TIdentity);
        }
      },
    ) as (request: IncomingMessage, response: unknown, next: (error?: unknown) => void) => void;
    middleware(request, undefined, reject);
  });
}

/**
 * A guard's whole job over a bearer strategy: authenticate, attach the identity as `request.user`,
 * and answer refusals as Herald always has: `401` (`403` for a missing scope) with
 * `{error: reason, message}`, or `{error: 'unauthorized'}` when no token was given at all.
 */
export async function guardRequest(strategy: Strategy, context: ExecutionContext): Promise<true> {
  const request = context.switchToHttp().getRequest<Request>();
  try {
    request.user = await authenticateRequest<Express.User>(strategy, request);
    return true;
  } catch (error) {
    throw error instanceof AuthError ? httpRefusal(error) : error;
  }
}

export function httpRefusal(error: AuthError): HttpException {
  if (error.reason === 'missing-token') {
    return new UnauthorizedException({ error: 'unauthorized', message: 'a bearer token is required' });
  }
  const body = { error: error.reason, message: error.message };
  return error.status === 403 ? new ForbiddenException(body) : new UnauthorizedException(body);
}

/**
 * A bearer strategy's `authenticate`: a token verified before is answered from the cache (the
 * policy `admit` still runs on every request); any other goes through passport-jwt (`verify`).
 */
export function authenticateCached(
  strategy: Strategy,
  verification: BearerTokenVerification,
  request: Request,
  admit: (claims: VerifiedClaims) => unknown,
  verify: () => void,
): void {
  const token = verification.tokenOf(request);
  const cached = token === undefined ? undefined : verification.cached(token);
  if (token === undefined) {
    strategy.fail(new AuthError('missing-token'), 401);
  } else if (cached === undefined) {
    verify();
  } else {
    try {
      strategy.success(admit(cached));
    } catch (error) {
      strategy.error(error as Error);
    }
  }
}

/** The identity the route's guard authenticated (`request.user`). */
export const AuthenticatedUser = createParamDecorator(
  (_data: unknown, context: ExecutionContext): unknown => context.switchToHttp().getRequest<Request>().user,
);
