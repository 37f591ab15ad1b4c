import { Column, Entity, PrimaryColumn } from 'typeorm';

/** An installation allowed to use the push relay API; only a hash of its key is kept. */
@Entity({ name: 'installation' })
export class InstallationEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  /** `scrypt$N$r$p$salt$hash` (see installation-key.ts). */
  @Column({ name: 'key_hash', type: 'varchar', length: 255 })
  keyHash!: string;

  @Column({ type: 'boolean', default: true })
  enabled!: boolean;

  @Column({ name: 'created_at', type: Date })
  createdAt!: Date;
}
