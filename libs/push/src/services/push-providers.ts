import { type PushProvider } from '@herald/persistence';

import { type MobilePush, type SendOutcome } from '../providers/send-outcome';
import { type WebPushMessage, type WebPushTarget } from '../providers/webpush.sender';
import { type RelayRegistration, type RelaySend } from '../providers/relay.client';

/** What the worker needs of each provider; the configured ones are set, the others undefined. */
export interface PushProviders {
  fcm?: { send(token: string, push: MobilePush): Promise<SendOutcome> };
  apns?: { send(token: string, push: MobilePush): Promise<SendOutcome> };
  webpush?: { send(target: WebPushTarget, message: WebPushMessage): Promise<SendOutcome> };
  /**
   * Bitwarden's relay: when set, the users' own mobile registrations are forwarded to it and their
   * pushes go through it instead of FCM/APNs (relay installations' never do: docs/push.md).
   */
  relay?: {
    send(message: RelaySend): Promise<SendOutcome>;
    register(registration: RelayRegistration): Promise<SendOutcome>;
    delete(deviceId: string): Promise<SendOutcome>;
    addOrganization(deviceIds: string[], organizationId: string): Promise<SendOutcome>;
    deleteOrganization(deviceIds: string[], organizationId: string): Promise<SendOutcome>;
  };
}

export const PUSH_PROVIDERS = Symbol('PUSH_PROVIDERS');

export type ProviderName = PushProvider | 'relay';
