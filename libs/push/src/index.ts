export * from './config/push.config';
export * from './providers/apns.sender';
export * from './providers/fcm.sender';
export * from './providers/relay.client';
export * from './providers/send-outcome';
export * from './providers/webpush.sender';
export * from './push.module';
export * from './services/push-providers';
export { pushConsumers } from './consumers/push-jobs.consumer';
