-- The Vaultwarden tables the bridge reads, as Vaultwarden's PostgreSQL migrations leave them
-- (column names and types from its migrations/postgresql and src/db/schemas/postgresql/schema.rs;
-- columns the bridge never reads are kept where they are NOT NULL, so the writes look like
-- Vaultwarden's own). Written for the tests; not Vaultwarden's DDL.
CREATE TABLE users (
  uuid CHAR(36) NOT NULL PRIMARY KEY,
  enabled BOOLEAN NOT NULL DEFAULT true,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL,
  email VARCHAR(255) NOT NULL UNIQUE,
  name TEXT NOT NULL,
  password_hash BYTEA NOT NULL,
  salt BYTEA NOT NULL,
  password_iterations INTEGER NOT NULL,
  akey TEXT NOT NULL,
  security_stamp TEXT NOT NULL,
  equivalent_domains TEXT NOT NULL DEFAULT '[]',
  excluded_globals TEXT NOT NULL DEFAULT '[]',
  client_kdf_type INTEGER NOT NULL DEFAULT 0,
  client_kdf_iter INTEGER NOT NULL DEFAULT 600000
);

CREATE TABLE organizations (
  uuid VARCHAR(40) NOT NULL PRIMARY KEY,
  name TEXT NOT NULL,
  billing_email TEXT NOT NULL
);

CREATE TABLE users_organizations (
  uuid CHAR(36) NOT NULL PRIMARY KEY,
  user_uuid CHAR(36) NOT NULL REFERENCES users (uuid),
  org_uuid CHAR(36) NOT NULL REFERENCES organizations (uuid),
  access_all BOOLEAN NOT NULL,
  akey TEXT NOT NULL,
  status INTEGER NOT NULL,
  atype INTEGER NOT NULL,
  UNIQUE (user_uuid, org_uuid)
);

CREATE TABLE collections (
  uuid VARCHAR(40) NOT NULL PRIMARY KEY,
  org_uuid VARCHAR(40) NOT NULL REFERENCES organizations (uuid),
  name TEXT NOT NULL
);

CREATE TABLE users_collections (
  user_uuid CHAR(36) NOT NULL REFERENCES users (uuid),
  collection_uuid CHAR(36) NOT NULL REFERENCES collections (uuid),
  read_only BOOLEAN NOT NULL DEFAULT false,
  hide_passwords BOOLEAN NOT NULL DEFAULT false,
  PRIMARY KEY (user_uuid, collection_uuid)
);

CREATE TABLE groups (
  uuid CHAR(36) NOT NULL PRIMARY KEY,
  organizations_uuid VARCHAR(40) NOT NULL REFERENCES organizations (uuid),
  name VARCHAR(100) NOT NULL,
  access_all BOOLEAN NOT NULL,
  external_id VARCHAR(300) NULL,
  creation_date TIMESTAMP NOT NULL,
  revision_date TIMESTAMP NOT NULL
);

CREATE TABLE groups_users (
  groups_uuid CHAR(36) NOT NULL REFERENCES groups (uuid),
  users_organizations_uuid VARCHAR(36) NOT NULL REFERENCES users_organizations (uuid),
  PRIMARY KEY (groups_uuid, users_organizations_uuid)
);

CREATE TABLE collections_groups (
  collections_uuid VARCHAR(40) NOT NULL REFERENCES collections (uuid),
  groups_uuid CHAR(36) NOT NULL REFERENCES groups (uuid),
  read_only BOOLEAN NOT NULL,
  hide_passwords BOOLEAN NOT NULL,
  PRIMARY KEY (collections_uuid, groups_uuid)
);

CREATE TABLE ciphers (
  uuid CHAR(36) NOT NULL PRIMARY KEY,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL,
  user_uuid CHAR(36) REFERENCES users (uuid),
  organization_uuid CHAR(36) REFERENCES organizations (uuid),
  key TEXT,
  atype INTEGER NOT NULL,
  name TEXT NOT NULL,
  notes TEXT,
  fields TEXT,
  data TEXT NOT NULL,
  password_history TEXT,
  deleted_at TIMESTAMP,
  reprompt INTEGER
);

CREATE TABLE attachments (
  id TEXT NOT NULL PRIMARY KEY,
  cipher_uuid VARCHAR(40) NOT NULL REFERENCES ciphers (uuid),
  file_name TEXT NOT NULL,
  file_size BIGINT NOT NULL,
  akey TEXT
);

CREATE TABLE ciphers_collections (
  cipher_uuid CHAR(36) NOT NULL REFERENCES ciphers (uuid),
  collection_uuid CHAR(36) NOT NULL REFERENCES collections (uuid),
  PRIMARY KEY (cipher_uuid, collection_uuid)
);

CREATE TABLE folders (
  uuid CHAR(36) NOT NULL PRIMARY KEY,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL,
  user_uuid CHAR(36) NOT NULL REFERENCES users (uuid),
  name TEXT NOT NULL
);

CREATE TABLE folders_ciphers (
  cipher_uuid CHAR(36) NOT NULL REFERENCES ciphers (uuid),
  folder_uuid CHAR(36) NOT NULL REFERENCES folders (uuid),
  PRIMARY KEY (cipher_uuid, folder_uuid)
);

CREATE TABLE favorites (
  user_uuid CHAR(36) NOT NULL REFERENCES users (uuid),
  cipher_uuid CHAR(36) NOT NULL REFERENCES ciphers (uuid),
  PRIMARY KEY (user_uuid, cipher_uuid)
);

CREATE TABLE sends (
  uuid CHAR(36) NOT NULL PRIMARY KEY,
  user_uuid CHAR(36) REFERENCES users (uuid),
  organization_uuid CHAR(36) REFERENCES organizations (uuid),
  name TEXT NOT NULL,
  notes TEXT,
  atype INTEGER NOT NULL,
  data TEXT NOT NULL,
  akey TEXT NOT NULL,
  password_hash BYTEA,
  password_salt BYTEA,
  password_iter INTEGER,
  max_access_count INTEGER,
  access_count INTEGER NOT NULL,
  creation_date TIMESTAMP NOT NULL,
  revision_date TIMESTAMP NOT NULL,
  expiration_date TIMESTAMP,
  deletion_date TIMESTAMP NOT NULL,
  disabled BOOLEAN NOT NULL,
  hide_email BOOLEAN
);

CREATE TABLE auth_requests (
  uuid CHAR(36) NOT NULL PRIMARY KEY,
  user_uuid CHAR(36) NOT NULL REFERENCES users (uuid),
  organization_uuid CHAR(36) REFERENCES organizations (uuid),
  request_device_identifier CHAR(36) NOT NULL,
  device_type INTEGER NOT NULL,
  request_ip TEXT NOT NULL,
  response_device_id CHAR(36),
  access_code TEXT NOT NULL,
  public_key TEXT NOT NULL,
  enc_key TEXT,
  master_password_hash TEXT,
  approved BOOLEAN,
  creation_date TIMESTAMP NOT NULL,
  response_date TIMESTAMP,
  authentication_date TIMESTAMP
);
