import { Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';

import { DeviceEntity } from './device.entity';

/**
 * A device's membership in an organization (organization pushes fan out through this table). It
 * carries the device's namespace: an organization id only means something within one namespace.
 */
@Entity({ name: 'device_organization' })
@Index('IDX_device_organization_namespace_organization_id', ['namespace', 'organizationId'])
export class DeviceOrganizationEntity {
  @PrimaryColumn({ type: 'uuid' })
  namespace!: string;

  @PrimaryColumn({ name: 'device_id', type: 'uuid' })
  deviceId!: string;

  @PrimaryColumn({ name: 'organization_id', type: 'uuid' })
  organizationId!: string;

  // Mirrors the migrations' foreign key; never loaded.
  @ManyToOne(() => DeviceEntity, { onDelete: 'CASCADE' })
  @JoinColumn([
    {
      name: 'namespace',
      referencedColumnName: 'namespace',
      foreignKeyConstraintName: 'FK_device_organization_device',
    },
    {
      name: 'device_id',
      referencedColumnName: 'id',
      foreignKeyConstraintName: 'FK_device_organization_device',
    },
  ])
  device?: DeviceEntity;
}
