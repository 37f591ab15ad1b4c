import {
  HttpTransportType,
  type HubConnection,
  HubConnectionBuilder,
  JsonHubProtocol,
  LogLevel,
} from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';

import { eventually } from './eventually';

export interface ReceivedInvocation {
  target: string;
  args: unknown[];
}

export interface HubClientOptions {
  /** Sent the way Bitwarden clients send it (the access token factory). */
  token?: string;
  protocol?: 'messagepack' | 'json';
  skipNegotiation?: boolean;
}

/**
 * The real `@microsoft/signalr` client, connected the way Bitwarden's clients connect:
 * WebSockets only, negotiation skipped, MessagePack by default. Records every invocation.
 */
export class HubClient {
  readonly received: ReceivedInvocation[] = [];

  private constructor(readonly connection: HubConnection) {
    for (const target of ['ReceiveMessage', 'AuthRequestResponseRecieved', 'Heartbeat']) {
      connection.on(target, (...args: unknown[]) => this.received.push({ target, args }));
    }
  }

  static async connect(url: string, options: HubClientOptions = {}): Promise<HubClient> {
    const connection = new HubConnectionBuilder()
      .withUrl(url, {
        transport: HttpTransportType.WebSockets,
        skipNegotiation: options.skipNegotiation ?? true,
        ...(options.token ? { accessTokenFactory: () => options.token! } : {}),
      })
      .withHubProtocol(options.protocol === 'json' ? new JsonHubProtocol() : new MessagePackHubProtocol())
      .configureLogging(LogLevel.None)
      .build();
    const client = new HubClient(connection);
    await connection.start();
    return client;
  }

  /** Waits for the first invocation that matches, and returns it. */
  async next(
    match: (invocation: ReceivedInvocation) => boolean,
    timeoutMs = 10_000,
  ): Promise<ReceivedInvocation> {
    return eventually(
      () => {
        const found = this.received.find(match);
        if (!found) throw new Error(`no matching invocation among ${this.received.length} received`);
        return found;
      },
      { timeoutMs },
    );
  }

  async stop(): Promise<void> {
    await this.connection.stop();
  }
}
