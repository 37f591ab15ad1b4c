import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * A named random secret (signing keys and the like). The bytes are stored as base64 text: TypeORM
 * has no binary column type that both PostgreSQL (bytea) and SQLite (blob) accept.
 */
@Entity({ name: 'secret' })
export class SecretEntity {
  @PrimaryColumn({ type: 'varchar', length: 255 })
  name!: string;

  @Column({ type: 'text' })
  value!: string;
}
