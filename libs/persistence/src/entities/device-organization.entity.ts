import { Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';

import { DeviceEntity } from './device.entity';

/** A device's membership in an organization (organization pushes fan out through this table). */
@Entity({ name: 'device_organization' })
@Index('IDX_device_organization_organization_id', ['organizationId'])
export class DeviceOrganizationEntity {
  @PrimaryColumn({ name: 'device_id', type: 'uuid' })
  deviceId!: string;

  @PrimaryColumn({ name: 'organization_id', type: 'uuid' })
  organizationId!: string;

  // Mirrors the migrations' foreign key; never loaded.
  @ManyToOne(() => DeviceEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'device_id', foreignKeyConstraintName: 'FK_device_organization_device' })
  device?: DeviceEntity;
}
