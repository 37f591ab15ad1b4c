import { type EntityManager, In, Not } from 'typeorm';

import { DeviceEntity, DeviceOrganizationEntity } from '../entities';
import { PersistenceValidationError } from '../persistence-validation.error';
import {
  type DeviceRecord,
  type DeviceRepository,
  type DeviceTargetQuery,
  type PushProvider,
  type RegisterDevice,
  type WebPushSubscription,
} from '../persistence.ports';
import * as valid from '../validation';
import { type UnitOfWork } from './unit-of-work';

/** Ids per `IN (…)` list: far below PostgreSQL's and SQLite's bound-parameter limits. */
const IN_LIST_CHUNK = 500;

/** Everything a re-registration overwrites: not the id, not the first registration time. */
const REGISTRATION_COLUMNS = [
  'user_id',
  'identifier',
  'type',
  'provider',
  'push_token',
  'web_push_endpoint',
  'web_push_p256dh',
  'web_push_auth',
  'installation_id',
  'failure_count',
  'updated_at',
];

/** The columns that say how a device is reached; exactly one channel is set at a time. */
type Channel = Pick<
  DeviceEntity,
  'provider' | 'pushToken' | 'webPushEndpoint' | 'webPushP256dh' | 'webPushAuth'
>;

const NO_CHANNEL: Channel = {
  provider: null,
  pushToken: null,
  webPushEndpoint: null,
  webPushP256dh: null,
  webPushAuth: null,
};

export class TypeormDeviceRepository implements DeviceRepository {
  constructor(private readonly unit: UnitOfWork) {}

  async register(input: RegisterDevice): Promise<DeviceRecord> {
    const device = valid.registration(input);
    return this.unit.transaction(async (manager) => {
      const now = new Date();
      // The same device of the same user under an older id: the new registration replaces it
      // (it would collide with the unique (user_id, identifier) index otherwise).
      await manager.delete(DeviceEntity, {
        userId: device.userId,
        identifier: device.identifier,
        id: Not(device.id),
      });
      await manager
        .createQueryBuilder()
        .insert()
        .into(DeviceEntity)
        .values({
          id: device.id,
          userId: device.userId,
          identifier: device.identifier,
          type: device.type,
          provider: device.provider,
          pushToken: device.pushToken,
          webPushEndpoint: device.webPush?.endpoint ?? null,
          webPushP256dh: device.webPush?.p256dh ?? null,
          webPushAuth: device.webPush?.auth ?? null,
          installationId: device.installationId,
          failureCount: 0,
          createdAt: now,
          updatedAt: now,
        })
        // ON CONFLICT … DO UPDATE (both databases): concurrent registrations of one device serialize
        // on its row instead of failing on the primary key.
        .orUpdate(REGISTRATION_COLUMNS, ['id'])
        .updateEntity(false)
        .execute();
      await manager.delete(DeviceOrganizationEntity, { deviceId: device.id });
      for (const organizationIds of chunks(device.organizationIds)) {
        await manager.insert(
          DeviceOrganizationEntity,
          organizationIds.map((organizationId) => ({ deviceId: device.id, organizationId })),
        );
      }
      const stored = await this.load(manager, device.id);
      if (stored === undefined) throw new Error(`device ${device.id} is missing right after its upsert`);
      return stored;
    });
  }

  async findById(id: string): Promise<DeviceRecord | undefined> {
    const deviceId = valid.guid('id', id);
    return this.unit.run((manager) => this.load(manager, deviceId));
  }

  async findByIdentifier(userId: string, identifier: string): Promise<DeviceRecord | undefined> {
    const user = valid.guid('userId', userId);
    const deviceIdentifier = valid.identifier('identifier', identifier);
    return this.unit.run(async (manager) => {
      const device = await manager.findOneBy(DeviceEntity, { userId: user, identifier: deviceIdentifier });
      return device === null ? undefined : (await this.withOrganizations(manager, [device]))[0];
    });
  }

  async updatePushToken(
    userId: string,
    identifier: string,
    provider: PushProvider,
    pushToken: string,
  ): Promise<DeviceRecord | undefined> {
    const user = valid.guid('userId', userId);
    const deviceIdentifier = valid.identifier('identifier', identifier);
    const tokenProvider = valid.provider('provider', provider);
    if (tokenProvider === 'webpush') {
      throw new PersistenceValidationError('provider', 'web push takes a subscription (updateWebPush)');
    }
    const token = valid.pushToken('pushToken', pushToken);
    return this.setChannel(user, deviceIdentifier, {
      ...NO_CHANNEL,
      provider: tokenProvider,
      pushToken: token,
    });
  }

  async updateWebPush(
    userId: string,
    identifier: string,
    subscription: WebPushSubscription,
  ): Promise<DeviceRecord | undefined> {
    const user = valid.guid('userId', userId);
    const deviceIdentifier = valid.identifier('identifier', identifier);
    const { endpoint, p256dh, auth } = valid.webPushSubscription('subscription', subscription);
    return this.setChannel(user, deviceIdentifier, {
      ...NO_CHANNEL,
      provider: 'webpush',
      webPushEndpoint: endpoint,
      webPushP256dh: p256dh,
      webPushAuth: auth,
    });
  }

  async remove(id: string): Promise<boolean> {
    const deviceId = valid.guid('id', id);
    // Memberships go with the row: ON DELETE CASCADE.
    const result = await this.unit.run((manager) => manager.delete(DeviceEntity, { id: deviceId }));
    return (result.affected ?? 0) > 0;
  }

  async addOrganization(deviceIds: string[], organizationId: string): Promise<number> {
    const ids = valid.guidList('deviceIds', deviceIds);
    const organization = valid.guid('organizationId', organizationId);
    if (ids.length === 0) return 0;
    return this.unit.transaction(async (manager) => {
      const now = new Date();
      let joined = 0;
      for (const chunk of chunks(ids)) {
        const known = await manager.find(DeviceEntity, { select: { id: true }, where: { id: In(chunk) } });
        const members = await this.memberIds(manager, organization, chunk);
        const joining = known.map((device) => device.id).filter((id) => !members.has(id));
        if (joining.length === 0) continue;
        await manager
          .createQueryBuilder()
          .insert()
          .into(DeviceOrganizationEntity)
          .values(joining.map((deviceId) => ({ deviceId, organizationId: organization })))
          .orIgnore() // a concurrent add of the same membership is not an error
          .updateEntity(false)
          .execute();
        await manager.update(DeviceEntity, { id: In(joining) }, { updatedAt: now });
        joined += joining.length;
      }
      return joined;
    });
  }

  async removeOrganization(deviceIds: string[], organizationId: string): Promise<number> {
    const ids = valid.guidList('deviceIds', deviceIds);
    const organization = valid.guid('organizationId', organizationId);
    if (ids.length === 0) return 0;
    return this.unit.transaction(async (manager) => {
      const now = new Date();
      let left = 0;
      for (const chunk of chunks(ids)) {
        const leaving = [...(await this.memberIds(manager, organization, chunk))];
        if (leaving.length === 0) continue;
        await manager.delete(DeviceOrganizationEntity, {
          organizationId: organization,
          deviceId: In(leaving),
        });
        await manager.update(DeviceEntity, { id: In(leaving) }, { updatedAt: now });
        left += leaving.length;
      }
      return left;
    });
  }

  async findTargets(query: DeviceTargetQuery): Promise<DeviceRecord[]> {
    const { audience, excludeIdentifier, deviceTypes } = valid.targetQuery(query);
    if (deviceTypes !== null && deviceTypes.length === 0) return [];
    return this.unit.run(async (manager) => {
      const builder = manager
        .createQueryBuilder(DeviceEntity, 'device')
        .where('(device.pushToken IS NOT NULL OR device.webPushEndpoint IS NOT NULL)');
      switch (audience.kind) {
        case 'user':
          builder.andWhere('device.userId = :userId', { userId: audience.userId });
          break;
        case 'organization':
          builder.innerJoin(
            DeviceOrganizationEntity,
            'membership',
            'membership.deviceId = device.id AND membership.organizationId = :organizationId',
            { organizationId: audience.organizationId },
          );
          break;
        case 'installation':
          builder.andWhere('device.installationId = :installationId', {
            installationId: audience.installationId,
          });
          break;
      }
      if (excludeIdentifier !== null) {
        builder.andWhere('device.identifier <> :excludeIdentifier', { excludeIdentifier });
      }
      if (deviceTypes !== null) builder.andWhere('device.type IN (:...deviceTypes)', { deviceTypes });
      const devices = await builder
        .orderBy('device.createdAt', 'ASC')
        .addOrderBy('device.id', 'ASC')
        .getMany();
      return this.withOrganizations(manager, devices);
    });
  }

  async clearPushRegistration(id: string): Promise<void> {
    const deviceId = valid.guid('id', id);
    await this.unit.run((manager) =>
      manager.update(
        DeviceEntity,
        { id: deviceId },
        { ...NO_CHANNEL, failureCount: 0, updatedAt: new Date() },
      ),
    );
  }

  async recordFailure(id: string): Promise<number> {
    const deviceId = valid.guid('id', id);
    return this.unit.transaction(async (manager) => {
      await manager
        .createQueryBuilder()
        .update(DeviceEntity)
        .set({ failureCount: () => '"failure_count" + 1' })
        .where({ id: deviceId })
        .execute();
      const device = await manager.findOne(DeviceEntity, {
        select: { failureCount: true },
        where: { id: deviceId },
      });
      return device?.failureCount ?? 0;
    });
  }

  async resetFailures(id: string): Promise<void> {
    const deviceId = valid.guid('id', id);
    await this.unit.run((manager) => manager.update(DeviceEntity, { id: deviceId }, { failureCount: 0 }));
  }

  private async setChannel(
    userId: string,
    identifier: string,
    channel: Channel,
  ): Promise<DeviceRecord | undefined> {
    return this.unit.transaction(async (manager) => {
      const device = await manager.findOneBy(DeviceEntity, { userId, identifier });
      if (device === null) return undefined;
      await manager.update(
        DeviceEntity,
        { id: device.id },
        { ...channel, failureCount: 0, updatedAt: new Date() },
      );
      return this.load(manager, device.id);
    });
  }

  private async load(manager: EntityManager, id: string): Promise<DeviceRecord | undefined> {
    const device = await manager.findOneBy(DeviceEntity, { id });
    return device === null ? undefined : (await this.withOrganizations(manager, [device]))[0];
  }

  /** Ids among `deviceIds` that are members of the organization. */
  private async memberIds(
    manager: EntityManager,
    organizationId: string,
    deviceIds: string[],
  ): Promise<Set<string>> {
    const members = await manager.find(DeviceOrganizationEntity, {
      where: { organizationId, deviceId: In(deviceIds) },
    });
    return new Set(members.map((member) => member.deviceId));
  }

  private async withOrganizations(manager: EntityManager, devices: DeviceEntity[]): Promise<DeviceRecord[]> {
    const organizations = new Map<string, string[]>();
    for (const deviceIds of chunks(devices.map((device) => device.id))) {
      const memberships = await manager.find(DeviceOrganizationEntity, {
        where: { deviceId: In(deviceIds) },
      });
      for (const { deviceId, organizationId } of memberships) {
        const list = organizations.get(deviceId);
        if (list === undefined) organizations.set(deviceId, [organizationId]);
        else list.push(organizationId);
      }
    }
    return devices.map((device) => toRecord(device, (organizations.get(device.id) ?? []).sort()));
  }
}

function toRecord(device: DeviceEntity, organizationIds: string[]): DeviceRecord {
  const { webPushEndpoint, webPushP256dh, webPushAuth } = device;
  return {
    id: device.id,
    userId: device.userId,
    identifier: device.identifier,
    type: device.type,
    provider: device.provider,
    pushToken: device.pushToken,
    webPush:
      webPushEndpoint !== null && webPushP256dh !== null && webPushAuth !== null
        ? { endpoint: webPushEndpoint, p256dh: webPushP256dh, auth: webPushAuth }
        : null,
    organizationIds,
    installationId: device.installationId,
    failureCount: device.failureCount,
    createdAt: device.createdAt,
    updatedAt: device.updatedAt,
  };
}

function chunks<T>(items: T[]): T[][] {
  const result: T[][] = [];
  for (let start = 0; start < items.length; start += IN_LIST_CHUNK) {
    result.push(items.slice(start, start + IN_LIST_CHUNK));
  }
  return result;
}
