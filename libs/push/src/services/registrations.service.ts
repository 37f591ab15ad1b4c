import { randomUUID } from 'node:crypto';

import { Inject, Injectable } from '@nestjs/common';

import { PUSH_QUEUE, type PushQueue } from '@herald/messaging';
import { type Database, type DeviceRecord, type RegisterDevice } from '@herald/persistence';

import { PUSH_DATABASE } from '../push.tokens';
import { PUSH_PROVIDERS, type PushProviders } from './push-providers';

const isMobile = (device: Pick<DeviceRecord, 'provider'>) =>
  device.provider === 'fcm' || device.provider === 'apns';

/**
 * Every change to the registry goes through here: it is written to the database first, then —
 * when Herald pushes through Bitwarden's relay — queued for forwarding (durably, retried), so a
 * registration never fails because the relay is down.
 */
@Injectable()
export class RegistrationsService {
  constructor(
    @Inject(PUSH_DATABASE) private readonly database: Database,
    @Inject(PUSH_QUEUE) private readonly queue: PushQueue,
    @Inject(PUSH_PROVIDERS) private readonly providers: PushProviders,
  ) {}

  async register(input: RegisterDevice): Promise<DeviceRecord> {
    const device = await this.database.devices.register(input);
    if (this.providers.relay && isMobile(device) && device.pushToken) {
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

  async remove(id: string): Promise<void> {
    const device = await this.database.devices.findById(id);
    await this.database.devices.remove(id);
    if (this.providers.relay && device && isMobile(device)) {
      await this.queue.publishRelayJob({ jobId: `relay-delete:${randomUUID()}`, op: 'delete', deviceId: id });
    }
  }

  async changeOrganization(
    op: 'add-organization' | 'delete-organization',
    deviceIds: string[],
    organizationId: string,
  ): Promise<void> {
    if (op === 'add-organization') await this.database.devices.addOrganization(deviceIds, organizationId);
    else await this.database.devices.removeOrganization(deviceIds, organizationId);
    if (this.providers.relay && deviceIds.length > 0) {
      await this.queue.publishRelayJob({
        jobId: `relay-${op}:${randomUUID()}`,
        op,
        deviceIds,
        organizationId,
      });
    }
  }
}
