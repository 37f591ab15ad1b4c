export * from './fake-apns';
export * from './fake-fcm';
export * from './fake-relay';
export * from './fake-web-push';
