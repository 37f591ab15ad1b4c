export * from './bootstrap';
export * from './config/environment';
export * from './health/health.service';
export * from './logging/component-logger';
export * from './logging/logger';
export * from './network/client-address';
export * from './platform.module';
export * from './version';
