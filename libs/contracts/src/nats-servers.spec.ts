import { describe, expect, it } from '@jest/globals';

import { natsServersAndCredentials as serversAndCredentials } from './nats-servers';

describe('serversAndCredentials', () => {
  it('leaves a list without credentials as it is', () => {
    expect(serversAndCredentials('nats://a:4222,nats://b:4222')).toEqual({
      servers: ['nats://a:4222', 'nats://b:4222'],
    });
  });

  it('takes a user and password out of the URLs, decoded', () => {
    expect(
      serversAndCredentials(
        'nats://herald:p%40ss%3Aword@nats-1:4222,nats://herald:p%40ss%3Aword@nats-2:4222',
      ),
    ).toEqual({ servers: ['nats://nats-1:4222', 'nats://nats-2:4222'], user: 'herald', pass: 'p@ss:word' });
  });

  it('takes a token, and lets URLs without credentials share them', () => {
    expect(serversAndCredentials('tls://s3cret@nats-1:4222,tls://nats-2:4222')).toEqual({
      servers: ['tls://nats-1:4222', 'tls://nats-2:4222'],
      token: 's3cret',
    });
  });

  it('refuses two different sets of credentials', () => {
    expect(() => serversAndCredentials('nats://a:x@nats-1:4222,nats://b:y@nats-2:4222')).toThrow(
      /HERALD_NATS_URL: every server must be given the same credentials/,
    );
  });
});
