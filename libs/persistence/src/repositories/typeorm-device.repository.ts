import { type EntityManager, In, Not } from 'typeorm';

import { DeviceEntity, DeviceOrganizationEntity } from '../entities';
import { DeviceLimitError, PersistenceValidationError } from '../persistence-validation.error';
import {
  type DeviceKey,
  type DeviceNamespace,
  type DeviceRecord,
  type DeviceRepository,
  type DeviceTargetQuery,
  type PushProvider,
  type RegisterDevice,
  type RegisterOptions,
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

  async register(input: RegisterDevice, options?: RegisterOptions): Promise<DeviceRecord> {
    const device = valid.registration(input);
    const { maxDevicesPerUser } = valid.registerOptions(options);
    const namespace = stored(device.installationId);
    return this.unit.transaction(async (manager) => {
      if (maxDevicesPerUser !== null) {
        await this.ensureRoomFor(manager, namespace, device, maxDevicesPerUser);
      }
      const now = new Date();
      // The same device of the same user under an older id: the new registration replaces it
      // (it would collide with the unique (namespace, user_id, identifier) index otherwise).
      await manager.delete(DeviceEntity, {
        namespace,
        userId: device.userId,
        identifier: device.identifier,
        id: Not(device.id),
      });
      await manager
        .createQueryBuilder()
        .insert()
        .into(DeviceEntity)
        .values({
          namespace,
          id: device.id,
          userId: device.userId,
          identifier: device.identifier,
          type: device.type,
          provider: device.provider,
          pushToken: device.pushToken,
          webPushEndpoint: device.webPush?.endpoint ?? null,
          webPushP256dh: device.webPush?.p256dh ?? null,
          webPushAuth: device.webPush?.auth ?? null,
          failureCount: 0,
          createdAt: now,
          updatedAt: now,
        })
        // ON CONFLICT … DO UPDATE (both databases): concurrent registrations of one device serialize
        // on its row instead of failing on the primary key.
        .orUpdate(REGISTRATION_COLUMNS, ['namespace', 'id'])
        .updateEntity(false)
        .execute();
      await manager.delete(DeviceOrganizationEntity, { namespace, deviceId: device.id });
      for (const organizationIds of chunks(device.organizationIds)) {
        await manager.insert(
          DeviceOrganizationEntity,
          organizationIds.map((organizationId) => ({ namespace, deviceId: device.id, organizationId })),
        );
      }
      const saved = await this.load(manager, namespace, device.id);
      if (saved === undefined) throw new Error(`device ${device.id} is missing right after its upsert`);
      return saved;
    });
  }

  async find(key: DeviceKey): Promise<DeviceRecord | undefined> {
    const { installationId, id } = valid.deviceKey('key', key);
    return this.unit.run((manager) => this.load(manager, stored(installationId), id));
  }

  async findByIdentifier(
    namespace: DeviceNamespace,
    userId: string,
    identifier: string,
  ): Promise<DeviceRecord | undefined> {
    const where = {
      namespace: stored(valid.namespace('namespace', namespace)),
      userId: valid.guid('userId', userId),
      identifier: valid.identifier('identifier', identifier),
    };
    return this.unit.run(async (manager) => {
      const device = await manager.findOneBy(DeviceEntity, where);
      return device === null ? undefined : (await this.withOrganizations(manager, [device]))[0];
    });
  }

  async updatePushToken(
    namespace: DeviceNamespace,
    userId: string,
    identifier: string,
    provider: PushProvider,
    pushToken: string,
  ): Promise<DeviceRecord | undefined> {
    const inNamespace = stored(valid.namespace('namespace', namespace));
    const user = valid.guid('userId', userId);
    const deviceIdentifier = valid.identifier('identifier', identifier);
    const tokenProvider = valid.provider('provider', provider);
    if (tokenProvider === 'webpush') {
      throw new PersistenceValidationError('provider', 'web push takes a subscription (updateWebPush)');
    }
    const token = valid.pushToken('pushToken', pushToken);
    return this.setChannel(inNamespace, user, deviceIdentifier, {
      ...NO_CHANNEL,
      provider: tokenProvider,
      pushToken: token,
    });
  }

  async updateWebPush(
    namespace: DeviceNamespace,
    userId: string,
    identifier: string,
    subscription: WebPushSubscription,
  ): Promise<DeviceRecord | undefined> {
    const inNamespace = stored(valid.namespace('namespace', namespace));
    const user = valid.guid('userId', userId);
    const deviceIdentifier = valid.identifier('identifier', identifier);
    const { endpoint, p256dh, auth } = valid.webPushSubscription('subscription', subscription);
    return this.setChannel(inNamespace, user, deviceIdentifier, {
      ...NO_CHANNEL,
      provider: 'webpush',
      webPushEndpoint: endpoint,
      webPushP256dh: p256dh,
      webPushAuth: auth,
    });
  }

  async remove(key: DeviceKey): Promise<boolean> {
    const { installationId, id } = valid.deviceKey('key', key);
    // Memberships go with the row: ON DELETE CASCADE.
    const result = await this.unit.run((manager) =>
      manager.delete(DeviceEntity, { namespace: stored(installationId), id }),
    );
    return (result.affected ?? 0) > 0;
  }

  async addOrganization(
    namespace: DeviceNamespace,
    deviceIds: string[],
    organizationId: string,
  ): Promise<number> {
    const inNamespace = stored(valid.namespace('namespace', namespace));
    const ids = valid.guidList('deviceIds', deviceIds);
    const organization = valid.guid('organizationId', organizationId);
    if (ids.length === 0) return 0;
    return this.unit.transaction(async (manager) => {
      const now = new Date();
      let joined = 0;
      for (const chunk of chunks(ids)) {
        const known = await manager.find(DeviceEntity, {
          select: { id: true },
          where: { namespace: inNamespace, id: In(chunk) },
        });
        const members = await this.memberIds(manager, inNamespace, organization, chunk);
        const joining = known.map((device) => device.id).filter((id) => !members.has(id));
        if (joining.length === 0) continue;
        await manager
          .createQueryBuilder()
          .insert()
          .into(DeviceOrganizationEntity)
          .values(
            joining.map((deviceId) => ({ namespace: inNamespace, deviceId, organizationId: organization })),
          )
          .orIgnore() // a concurrent add of the same membership is not an error
          .updateEntity(false)
          .execute();
        await manager.update(DeviceEntity, { namespace: inNamespace, id: In(joining) }, { updatedAt: now });
        joined += joining.length;
      }
      return joined;
    });
  }

  async removeOrganization(
    namespace: DeviceNamespace,
    deviceIds: string[],
    organizationId: string,
  ): Promise<number> {
    const inNamespace = stored(valid.namespace('namespace', namespace));
    const ids = valid.guidList('deviceIds', deviceIds);
    const organization = valid.guid('organizationId', organizationId);
    if (ids.length === 0) return 0;
    return this.unit.transaction(async (manager) => {
      const now = new Date();
      let left = 0;
      for (const chunk of chunks(ids)) {
        const leaving = [...(await this.memberIds(manager, inNamespace, organization, chunk))];
        if (leaving.length === 0) continue;
        await manager.delete(DeviceOrganizationEntity, {
          namespace: inNamespace,
          organizationId: organization,
          deviceId: In(leaving),
        });
        await manager.update(DeviceEntity, { namespace: inNamespace, id: In(leaving) }, { updatedAt: now });
        left += leaving.length;
      }
      return left;
    });
  }

  async findTargets(query: DeviceTargetQuery): Promise<DeviceRecord[]> {
    const { namespaces, audience, excludeIdentifier, deviceTypes } = valid.targetQuery(query);
    if (deviceTypes !== null && deviceTypes.length === 0) return [];
    return this.unit.run(async (manager) => {
      const builder = manager
        .createQueryBuilder(DeviceEntity, 'device')
        .where('device.namespace IN (:...namespaces)', { namespaces: namespaces.map(stored) })
        .andWhere('(device.pushToken IS NOT NULL OR device.webPushEndpoint IS NOT NULL)');
      switch (audience.kind) {
        case 'user':
          builder.andWhere('device.userId = :userId', { userId: audience.userId });
          break;
        case 'organization':
          builder.innerJoin(
            DeviceOrganizationEntity,
            'membership',
            'membership.namespace = device.namespace AND membership.deviceId = device.id' +
              ' AND membership.organizationId = :organizationId',
            { organizationId: audience.organizationId },
          );
          break;
        case 'everyone':
          break;
      }
      if (excludeIdentifier !== null) {
        builder.andWhere('device.identifier <> :excludeIdentifier', { excludeIdentifier });
      }
      if (deviceTypes !== null) builder.andWhere('device.type IN (:...deviceTypes)', { deviceTypes });
      const devices = await builder
        .orderBy('device.createdAt', 'ASC')
        .addOrderBy('device.namespace', 'ASC')
        .addOrderBy('device.id', 'ASC')
        .getMany();
      return this.withOrganizations(manager, devices);
    });
  }

  async clearPushRegistration(key: DeviceKey): Promise<void> {
    const where = this.whereKey(key);
    await this.unit.run((manager) =>
      manager.update(DeviceEntity, where, { ...NO_CHANNEL, failureCount: 0, updatedAt: new Date() }),
    );
  }

  async recordFailure(key: DeviceKey): Promise<number> {
    const where = this.whereKey(key);
    return this.unit.transaction(async (manager) => {
      await manager
        .createQueryBuilder()
        .update(DeviceEntity)
        .set({ failureCount: () => '"failure_count" + 1' })
        .where(where)
        .execute();
      const device = await manager.findOne(DeviceEntity, { select: { failureCount: true }, where });
      return device?.failureCount ?? 0;
    });
  }

  async resetFailures(key: DeviceKey): Promise<void> {
    const where = this.whereKey(key);
    await this.unit.run((manager) => manager.update(DeviceEntity, where, { failureCount: 0 }));
  }

  /** The row of one registration, as a `where` condition. */
  private whereKey(key: DeviceKey): { namespace: string; id: string } {
    const { installationId, id } = valid.deviceKey('key', key);
    return { namespace: stored(installationId), id };
  }

  /**
   * Refuses a registration that would give its user more than `max` registrations in the
   * namespace; the device itself (by id, or by identifier, which the registration replaces) is not
   * counted. PostgreSQL: a transaction-scoped advisory lock per (namespace, user) makes concurrent
   * registrations of one user count one after the other; SQLite runs one unit at a time anyway.
   */
  private async ensureRoomFor(
    manager: EntityManager,
    namespace: string,
    device: { id: string; userId: string; identifier: string },
    max: number,
  ): Promise<void> {
    if (manager.connection.options.type === 'postgres') {
      await manager.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
        `herald-device-user:${namespace}:${device.userId}`,
      ]);
    }
    const others = await manager.count(DeviceEntity, {
      where: {
        namespace,
        userId: device.userId,
        id: Not(device.id),
        identifier: Not(device.identifier),
      },
    });
    if (others >= max) throw new DeviceLimitError(device.userId, max);
  }

  private async setChannel(
    namespace: string,
    userId: string,
    identifier: string,
    channel: Channel,
  ): Promise<DeviceRecord | undefined> {
    return this.unit.transaction(async (manager) => {
      const device = await manager.findOneBy(DeviceEntity, { namespace, userId, identifier });
      if (device === null) return undefined;
      await manager.update(
        DeviceEntity,
        { namespace, id: device.id },
        { ...channel, failureCount: 0, updatedAt: new Date() },
      );
      return this.load(manager, namespace, device.id);
    });
  }

  private async load(
    manager: EntityManager,
    namespace: string,
    id: string,
  ): Promise<DeviceRecord | undefined> {
    const device = await manager.findOneBy(DeviceEntity, { namespace, id });
    return device === null ? undefined : (await this.withOrganizations(manager, [device]))[0];
  }

  /** Ids among the namespace's `deviceIds` that are members of the organization. */
  private async memberIds(
    manager: EntityManager,
    namespace: string,
    organizationId: string,
    deviceIds: string[],
  ): Promise<Set<string>> {
    const members = await manager.find(DeviceOrganizationEntity, {
      where: { namespace, organizationId, deviceId: In(deviceIds) },
    });
    return new Set(members.map((member) => member.deviceId));
  }

  private async withOrganizations(manager: EntityManager, devices: DeviceEntity[]): Promise<DeviceRecord[]> {
    const organizations = new Map<string, string[]>();
    const byNamespace = new Map<string, string[]>();
    for (const device of devices) {
      const ids = byNamespace.get(device.namespace);
      if (ids === undefined) byNamespace.set(device.namespace, [device.id]);
      else ids.push(device.id);
    }
    for (const [namespace, ids] of byNamespace) {
      for (const deviceIds of chunks(ids)) {
        const memberships = await manager.find(DeviceOrganizationEntity, {
          where: { namespace, deviceId: In(deviceIds) },
        });
        for (const { deviceId, organizationId } of memberships) {
          const key = `${namespace}/${deviceId}`;
          const list = organizations.get(key);
          if (list === undefined) organizations.set(key, [organizationId]);
          else list.push(organizationId);
        }
      }
    }
    return devices.map((device) =>
      toRecord(device, (organizations.get(`${device.namespace}/${device.id}`) ?? []).sort()),
    );
  }
}

/** The users' own namespace is stored as the nil GUID (part of the primary key, so never NULL). */
function stored(namespace: DeviceNamespace): string {
  return namespace ?? valid.NIL_GUID;
}

function toRecord(device: DeviceEntity, organizationIds: string[]): DeviceRecord {
  const { webPushEndpoint, webPushP256dh, webPushAuth } = device;
  return {
    installationId: device.namespace === valid.NIL_GUID ? null : device.namespace,
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
