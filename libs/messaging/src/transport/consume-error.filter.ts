import { Catch, type RpcExceptionFilter } from '@nestjs/common';
import { type Observable, throwError } from 'rxjs';

/**
 * Hands a consumer handler's error to the broker transport as it was thrown. Nest's default RPC
 * filter would replace any error but an `RpcException` with "Internal server error"; with this one
 * the retry (and, on the last attempt, the dead letter) keeps the real reason, as it did before
 * the handlers were Nest controllers. Put it on every controller with `@EventPattern` handlers.
 */
@Catch()
export class ConsumeErrorFilter implements RpcExceptionFilter<unknown> {
  catch(exception: unknown): Observable<never> {
    return throwError(() => exception);
  }
}
