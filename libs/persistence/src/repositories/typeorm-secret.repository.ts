import { randomBytes } from 'node:crypto';

import { SecretEntity } from '../entities';
import { type SecretRepository } from '../persistence.ports';
import * as valid from '../validation';
import { type UnitOfWork } from './unit-of-work';

const SECRET_BYTES = 32;

export class TypeormSecretRepository implements SecretRepository {
  constructor(private readonly unit: UnitOfWork) {}

  async getOrCreate(name: string): Promise<Buffer> {
    const secretName = valid.secretName('name', name);
    return this.unit.run(async (manager) => {
      const existing = await manager.findOneBy(SecretEntity, { name: secretName });
      if (existing !== null) return Buffer.from(existing.value, 'base64');
      // Insert-if-absent, then read back whatever won: when another process inserted first, its
      // value is kept (ON CONFLICT DO NOTHING / INSERT OR IGNORE) and everyone returns that one.
      await manager
        .createQueryBuilder()
        .insert()
        .into(SecretEntity)
        .values({ name: secretName, value: randomBytes(SECRET_BYTES).toString('base64') })
        .orIgnore()
        .updateEntity(false)
        .execute();
      const stored = await manager.findOneByOrFail(SecretEntity, { name: secretName });
      return Buffer.from(stored.value, 'base64');
    });
  }
}
