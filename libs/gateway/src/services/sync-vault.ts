import { ClientType, type Delivery, HubMethod, HubName, PushType } from '@herald/contracts';

/** The one message a device gets instead of a backlog that is too long, partly gone or unreadable. */
export function syncVaultDelivery(userId: string, now: Date): Delivery {
  return {
    eventId: `sync-vault:${userId}:${now.getTime()}`,
    hub: HubName.Main,
    method: HubMethod.ReceiveMessage,
    clientType: ClientType.All,
    message: { ContextId: null, Type: PushType.SyncVault, Payload: { UserId: userId, Date: now } },
    acceptedAt: now.getTime(),
    eventSequence: 0,
  };
}
