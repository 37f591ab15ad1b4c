/**
 * The few bytes of SignalR's wire format that raw test clients write and read (PROTOCOL.md §2):
 * the handshake request, the Ping message, and the VarInt length prefix of the MessagePack
 * protocol. Shared by the soak suite's raw clients and the benchmark's load generator.
 */

export type WireProtocol = 'messagepack' | 'json';

export const HANDSHAKE: Record<WireProtocol, string> = {
  messagepack: '{"protocol":"messagepack","version":1}\x1e',
  json: '{"protocol":"json","version":1}\x1e',
};

export const PING: Record<WireProtocol, Buffer | string> = {
  messagepack: Buffer.from([0x02, 0x91, 0x06]),
  json: '{"type":6}\x1e',
};

/** Splits a MessagePack-protocol frame into its VarInt-length-prefixed messages. */
export function framedMessages(frame: Buffer): Buffer[] {
  const messages: Buffer[] = [];
  let offset = 0;
  while (offset < frame.length) {
    let length = 0;
    let shift = 0;
    let byte: number;
    do {
      byte = frame[offset++]!;
      length += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80 && offset < frame.length);
    messages.push(frame.subarray(offset, offset + length));
    offset += length;
  }
  return messages;
}
