import { describe, expect, it } from '@jest/globals';
import { JsonHubProtocol } from './json-hub-protocol';
import { MessagePackHubProtocol } from './messagepack-hub-protocol';
import { resolveHubProtocol } from './resolve-hub-protocol';

describe('resolveHubProtocol', () => {
  it.each([1, 2])('resolves both protocols at version %d', (version) => {
    const json = resolveHubProtocol({ protocol: 'json', version });
    expect(json).toBeInstanceOf(JsonHubProtocol);
    expect(json).toMatchObject({ name: 'json', transferFormat: 'text' });
    const messagePack = resolveHubProtocol({ protocol: 'messagepack', version });
    expect(messagePack).toBeInstanceOf(MessagePackHubProtocol);
    expect(messagePack).toMatchObject({ name: 'messagepack', transferFormat: 'binary' });
  });

  it('shares one instance per protocol between connections', () => {
    expect(resolveHubProtocol({ protocol: 'json', version: 1 })).toBe(
      resolveHubProtocol({ protocol: 'json', version: 2 }),
    );
  });

  it.each([
    ['an unknown protocol', 'xml', 1],
    ['a protocol name in another case', 'MessagePack', 1],
    ['version 0', 'json', 0],
    ['version 3', 'messagepack', 3],
  ])('returns undefined for %s', (_name, protocol, version) => {
    expect(resolveHubProtocol({ protocol, version })).toBeUndefined();
  });
});
