import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

import { type PushProvider } from '../persistence.ports';

// Column types are the driver-neutral TypeORM names: 'uuid' is uuid on PostgreSQL and varchar on
// SQLite; `Date` is read and written as an instant on both. The migrations hold the exact SQL
// (timestamptz on PostgreSQL); the entities only map rows and are never synchronized.

/**
 * One registered device and its push channel (FCM/APNs token or web push subscription), in its
 * namespace: the relay installation that registered it, or the nil GUID for the users' own
 * registrations (a primary key column cannot be NULL; no installation has the nil GUID).
 */
@Entity({ name: 'device' })
@Index('UQ_device_namespace_user_identifier', ['namespace', 'userId', 'identifier'], { unique: true })
export class DeviceEntity {
  @PrimaryColumn({ type: 'uuid' })
  namespace!: string;

  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId!: string;

  @Column({ type: 'varchar', length: 255 })
  identifier!: string;

  @Column({ type: 'integer' })
  type!: number;

  @Column({ type: 'varchar', length: 16, nullable: true })
  provider!: PushProvider | null;

  @Column({ name: 'push_token', type: 'text', nullable: true })
  pushToken!: string | null;

  @Column({ name: 'web_push_endpoint', type: 'text', nullable: true })
  webPushEndpoint!: string | null;

  @Column({ name: 'web_push_p256dh', type: 'text', nullable: true })
  webPushP256dh!: string | null;

  @Column({ name: 'web_push_auth', type: 'text', nullable: true })
  webPushAuth!: string | null;

  @Column({ name: 'failure_count', type: 'integer', default: 0 })
  failureCount!: number;

  @Column({ name: 'created_at', type: Date })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: Date })
  updatedAt!: Date;
}
