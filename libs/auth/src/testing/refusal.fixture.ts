import { AuthError } from '../auth.error';

/** Awaits a promise that must reject with an AuthError, and returns that error for assertions. */
export async function refusalOf(promise: Promise<unknown>): Promise<AuthError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AuthError) {
      return error;
    }
    throw error;
  }
  throw new Error('expected an AuthError, but the promise resolved');
}
