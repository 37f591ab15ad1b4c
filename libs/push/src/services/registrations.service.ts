import { randomUUID } from 'node:crypto';

import { Inject, Injectable } from '@nestjs/common';

import { PUSH_QUEUE, type PushQueue } from '@herald/messaging';
import {
  type Database,
  type DeviceKey,
  type DeviceNamespace,
  type DeviceRecord,
  type RegisterDevice,
  type RegisterOptions,
} from '@herald/persistence';

import { PUSH_DATABASE } from '../push.tokens';
import { PUSH_PROVIDERS, type PushProviders } from './push-providers';

const isMobile = (device: Pick<DeviceRecord, 'provider'>) =>
  device.provider === 'fcm' || device.provider === 'apns';

/**
 * Every change to the registry goes through here: it is written to the database first, then —
 * when Herald pushes through Bitwarden's relay — queued for forwarding (durably, retried), so a
 * registration never fails because the relay is down. Only the users' own registrations are
 * forwarded: Bitwarden's relay knows Herald as one installation, one namespace, where relay
 * installations' ids would meet each other's and the users'. Their devices are reached through
 * Herald's own FCM and APNs instead.
 */
@Injectable()
export class RegistrationsService {
  constructor(
    @Inject(PUSH_DATABASE) private readonly database: Database,
    @Inject(PUSH_QUEUE) private readonly queue: PushQueue,
    @Inject(PUSH_PROVIDERS) private readonly providers: PushProviders,
  ) {}

  /** Throws `DeviceLimitError` past `options.maxDevicesPerUser`. */
  async register(input: RegisterDevice, options?: RegisterOptions): Promise<DeviceRecord> {
    const device = await this.database.devices.register(input, options);
    if (this.forwards(device.installationId) && isMobile(device) && device.pushToken) {
      await this.queue.publishRelayJob({
        jobId: `relay-register:${randomUUID()}`,
        op: 'register',
        registration: {
          deviceId: device.id,
          pushToken: device.pushToken,
          userId: device.userId,
          type: device.type,
          identifier: device.identifier,
          organizationIds: device.organizationIds,
        },
      });
    }
    return device;
  }

  async remove(key: DeviceKey): Promise<void> {
    const device = await this.database.devices.find(key);
    await this.database.devices.remove(key);
    if (device && this.forwards(device.installationId) && isMobile(device)) {
      await this.queue.publishRelayJob({
        jobId: `relay-delete:${randomUUID()}`,
        op: 'delete',
        deviceId: device.id,
      });
    }
  }

  async changeOrganization(
    namespace: DeviceNamespace,
    op: 'add-organization' | 'delete-organization',
    deviceIds: string[],
    organizationId: string,
  ): Promise<void> {
    if (op === 'add-organization') {
      await this.database.devices.addOrganization(namespace, deviceIds, organizationId);
    } else {
      await this.database.devices.removeOrganization(namespace, deviceIds, organizationId);
    }
    if (this.forwards(namespace) && deviceIds.length > 0) {
      await this.queue.publishRelayJob({
        jobId: `relay-${op}:${randomUUID()}`,
        op,
        deviceIds,
        organizationId,
      });
    }
  }

  private forwards(namespace: DeviceNamespace): boolean {
    return Boolean(this.providers.relay) && namespace === null;
  }
}
