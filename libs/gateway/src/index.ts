export * from './config/gateway.config';
export * from './gateway.module';
export * from './hubs/notifications.hub';
