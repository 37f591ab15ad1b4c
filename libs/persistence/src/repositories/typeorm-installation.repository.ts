import { randomUUID } from 'node:crypto';

import { InstallationEntity } from '../entities';
import { PersistenceValidationError } from '../persistence-validation.error';
import { type InstallationRecord, type InstallationRepository } from '../persistence.ports';
import * as valid from '../validation';
import { hashInstallationKey, installationKeyMatches, newInstallationKey } from './installation-key';
import { type UnitOfWork } from './unit-of-work';

export class TypeormInstallationRepository implements InstallationRepository {
  constructor(private readonly unit: UnitOfWork) {}

  async create(): Promise<{ installation: InstallationRecord; key: string }> {
    const key = newInstallationKey();
    const installation: InstallationEntity = {
      id: randomUUID(),
      keyHash: await hashInstallationKey(key),
      enabled: true,
      createdAt: new Date(),
    };
    await this.unit.run((manager) => manager.insert(InstallationEntity, installation));
    return { installation: toRecord(installation), key };
  }

  async verify(id: string, key: string): Promise<InstallationRecord | undefined> {
    const installationId = valid.guid('id', id);
    if (typeof key !== 'string') return undefined;
    const installation = await this.unit.run((manager) =>
      manager.findOneBy(InstallationEntity, { id: installationId }),
    );
    // Hashing happens outside the unit of work: on SQLite it would hold up every other query.
    if (installation === null || !installation.enabled) return undefined;
    return (await installationKeyMatches(key, installation.keyHash)) ? toRecord(installation) : undefined;
  }

  async findById(id: string): Promise<InstallationRecord | undefined> {
    const installationId = valid.guid('id', id);
    const installation = await this.unit.run((manager) =>
      manager.findOneBy(InstallationEntity, { id: installationId }),
    );
    return installation === null ? undefined : toRecord(installation);
  }

  async list(): Promise<InstallationRecord[]> {
    const installations = await this.unit.run((manager) =>
      manager.find(InstallationEntity, { order: { createdAt: 'ASC', id: 'ASC' } }),
    );
    return installations.map(toRecord);
  }

  async setEnabled(id: string, enabled: boolean): Promise<boolean> {
    const installationId = valid.guid('id', id);
    if (typeof enabled !== 'boolean') throw new PersistenceValidationError('enabled', 'must be a boolean');
    const result = await this.unit.run((manager) =>
      manager.update(InstallationEntity, { id: installationId }, { enabled }),
    );
    return (result.affected ?? 0) > 0;
  }
}

function toRecord(installation: InstallationEntity): InstallationRecord {
  return { id: installation.id, enabled: installation.enabled, createdAt: installation.createdAt };
}
