import { type ConnectionStatus, type ControlBus, type Unsubscribe } from '../ports';
import { type NatsClient } from './nats-client';

/** WIRE SHAPE of a disconnect command on `<ns>.control.disconnect.user.<userId>`. */
interface DisconnectCommand {
  reason: string;
}

export class NatsControlBus implements ControlBus {
  constructor(private readonly client: NatsClient) {}

  async disconnectUser(userId: string, reason: string): Promise<void> {
    const command: DisconnectCommand = { reason };
    this.client.connection.publish(
      this.client.names.subjects.disconnectUser(userId),
      JSON.stringify(command),
    );
    await this.client.flush();
  }

  async onDisconnectUser(handler: (userId: string, reason: string) => void): Promise<Unsubscribe> {
    const prefix = this.client.names.subjects.disconnectUser('x').slice(0, -1);
    const subscription = this.client.connection.subscribe(`${prefix}*`, {
      callback: (error, message) => {
        if (error) return;
        let reason = 'unspecified';
        try {
          const command = message.json<Partial<DisconnectCommand>>();
          if (typeof command.reason === 'string') reason = command.reason.slice(0, 200);
        } catch {
          // a command without a readable body still disconnects
        }
        handler(message.subject.slice(prefix.length), reason);
      },
    });
    await this.client.flush();
    return () => subscription.unsubscribe();
  }

  async queryConnection(gatewayId: string, connectionId: string): Promise<ConnectionStatus | undefined> {
    try {
      const reply = await this.client.connection.request(
        this.querySubject(gatewayId),
        JSON.stringify({ connectionId }),
        {
          timeout: QUERY_TIMEOUT_MS,
        },
      );
      const status = reply.json<ConnectionStatus>();
      return status.state === 'open' || status.state === 'closed' ? status : undefined;
    } catch {
      return undefined; // no responder, or no answer in time: the gateway is gone
    }
  }

  async onConnectionQuery(
    gatewayId: string,
    handler: (connectionId: string) => ConnectionStatus,
  ): Promise<Unsubscribe> {
    const subscription = this.client.connection.subscribe(this.querySubject(gatewayId), {
      callback: (error, message) => {
        if (error) return;
        try {
          const { connectionId } = message.json<{ connectionId?: unknown }>();
          if (typeof connectionId === 'string') message.respond(JSON.stringify(handler(connectionId)));
        } catch {
          // an unreadable question gets no answer
        }
      },
    });
    await this.client.flush();
    return () => subscription.unsubscribe();
  }

  private querySubject(gatewayId: string): string {
    return this.client.names.subjects.connectionQuery(gatewayId);
  }
}

/** A live gateway answers in well under this; silence means it is gone. */
const QUERY_TIMEOUT_MS = 500;
