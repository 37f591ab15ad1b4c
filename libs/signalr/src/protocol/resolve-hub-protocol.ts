import { type HandshakeRequest } from './handshake';
import { type HubProtocol } from './hub-protocol';
import { JsonHubProtocol } from './json-hub-protocol';
import { MessagePackHubProtocol } from './messagepack-hub-protocol';

/** Version 2 adds Ack/Sequence (stateful reconnect); both versions share the encoding. */
const SUPPORTED_VERSIONS: readonly number[] = [1, 2];

// Protocols hold no per-connection state, so every connection shares one of each.
const json = new JsonHubProtocol();
const messagePack = new MessagePackHubProtocol();

/** The protocol named in a handshake, or undefined for an unsupported protocol or version. */
export function resolveHubProtocol(request: HandshakeRequest): HubProtocol | undefined {
  if (!SUPPORTED_VERSIONS.includes(request.version)) return undefined;
  switch (request.protocol) {
    case 'json':
      return json;
    case 'messagepack':
      return messagePack;
    default:
      return undefined;
  }
}
