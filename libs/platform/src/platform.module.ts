import { type DynamicModule, Global, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';

import { redactUrl } from '@herald/auth';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { type Logger } from 'pino';

import { HealthController } from './health/health.controller';
import { HealthService } from './health/health.service';
import { componentLoggerProviders, ROOT_LOGGER } from './logging/component-logger';
import { MetricsController } from './metrics/metrics.controller';

export interface PlatformOptions {
  service: string;
  logger: Logger;
}

/**
 * What every service has: structured request logs (never a token), `/health/live`,
 * `/health/ready` and Prometheus `/metrics` with a registry the service's own metrics join.
 */
@Global()
@Module({})
export class PlatformModule {
  static forRoot(options: PlatformOptions): DynamicModule {
    const registry = new Registry();
    registry.setDefaultLabels({ service: options.service });
    collectDefaultMetrics({ register: registry, prefix: 'herald_process_' });
    // Every class module that names a component logger has been imported by now.
    const loggers = componentLoggerProviders();
    return {
      module: PlatformModule,
      imports: [
        LoggerModule.forRoot({
          pinoHttp: {
            logger: options.logger,
            autoLogging: { ignore: (request) => /^\/(health|metrics)/.test(request.url ?? '') },
            serializers: {
              req: (request: { id: unknown; method: string; url: string }) => ({
                id: request.id,
                method: request.method,
                // Browsers can only send tokens in the query: never log it.
                url: redactUrl(request.url),
              }),
              res: (response: { statusCode: number }) => ({ statusCode: response.statusCode }),
            },
          },
        }),
      ],
      controllers: [HealthController, MetricsController],
      providers: [
        HealthService,
        { provide: Registry, useValue: registry },
        { provide: ROOT_LOGGER, useValue: options.logger },
        ...loggers,
      ],
      exports: [HealthService, Registry, ROOT_LOGGER, ...loggers.map((provider) => provider.provide)],
    };
  }
}
