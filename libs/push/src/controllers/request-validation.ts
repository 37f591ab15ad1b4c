import { BadRequestException } from '@nestjs/common';

import { isGuid, isPlainObject } from '@herald/contracts';

/** A 400 naming the field at fault, in the shape every Herald endpoint uses. */
export function invalid(field: string, message: string): BadRequestException {
  return new BadRequestException({ error: 'invalid_request', message: `${field}: ${message}`, field });
}

/** Reads a JSON body field by name in any letter case (Bitwarden and Vaultwarden differ). */
export function field(body: unknown, name: string): unknown {
  if (!isPlainObject(body)) throw invalid('body', 'expected a JSON object');
  const key = Object.keys(body).find((candidate) => candidate.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : body[key];
}

export function guid(body: unknown, name: string): string {
  const value = field(body, name);
  if (!isGuid(value)) throw invalid(name, 'expected a GUID');
  return value.toLowerCase();
}

export function optionalGuid(body: unknown, name: string): string | undefined {
  const value = field(body, name);
  return value === undefined || value === null ? undefined : guid(body, name);
}

export function text(body: unknown, name: string, maxLength = 4096): string {
  const value = field(body, name);
  if (typeof value !== 'string' || value.length === 0 || value.length > maxLength) {
    throw invalid(name, `expected a non-empty string of at most ${maxLength} characters`);
  }
  return value;
}

export function integer(body: unknown, name: string, min: number, max: number): number {
  const value = field(body, name);
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(name, `expected an integer from ${min} to ${max}`);
  }
  return value;
}

export function guidList(body: unknown, name: string): string[] {
  const value = field(body, name);
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.length > 10_000 || !value.every(isGuid))
    throw invalid(name, 'expected an array of GUIDs');
  return value.map((id) => id.toLowerCase());
}

/** `devices: [{id}]` as the relay's organization routes send it. */
export function deviceIdList(body: unknown): string[] {
  const value = field(body, 'devices');
  if (!Array.isArray(value) || value.length > 10_000) throw invalid('devices', 'expected an array of {id}');
  return value.map((entry, index) => {
    try {
      return guid(entry, 'id');
    } catch {
      throw invalid(`devices[${index}].id`, 'expected a GUID');
    }
  });
}
