export * from './config/gateway.config';
export * from './gateway.module';
export * from './hubs/anonymous-hub.gateway';
export * from './hubs/notifications-hub.gateway';
