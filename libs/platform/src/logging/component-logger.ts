import { type FactoryProvider, Inject } from '@nestjs/common';
import { type Logger } from 'pino';

/** The process's root logger (service name, and for a gateway its id, bound). */
export const ROOT_LOGGER = Symbol('ROOT_LOGGER');

/** Every component that asked for a logger, collected as the classes are declared. */
const components = new Set<string>();

function tokenOf(component: string): string {
  return `herald:logger:${component}`;
}

/**
 * The one logger idiom: a class asks for its own child of the root logger, bound to
 * `{ component }`, e.g. `@InjectLogger('CatchUpService') private readonly logger: Logger`.
 * `PlatformModule.forRoot` provides one such child per component named anywhere.
 */
export function InjectLogger(component: string): ParameterDecorator & PropertyDecorator {
  components.add(component);
  return Inject(tokenOf(component));
}

/** The root logger's child for one component (also for code built outside Nest's injector). */
export function componentLogger(root: Logger, component: string): Logger {
  return root.child({ component });
}

/** One provider per component declared with `InjectLogger` so far. */
export function componentLoggerProviders(): FactoryProvider<Logger>[] {
  return [...components].map((component) => ({
    provide: tokenOf(component),
    useFactory: (root: Logger) => componentLogger(root, component),
    inject: [ROOT_LOGGER],
  }));
}
