import { Controller, Get, HttpCode } from '@nestjs/common';

/** What a plain request to a hub path gets (PROTOCOL.md: hubs speak only over WebSocket). */
export interface UpgradeRequiredBody {
  error: 'websocket_required';
  message: string;
}

/**
 * A hub path reached without a WebSocket upgrade. Real clients never do this; a reverse proxy
 * that drops the `Upgrade` and `Connection` headers turns every client's upgrade into exactly this
 * request, so the answer names the fix (and `herald doctor` recognises it).
 */
@Controller()
export class HubUpgradeRequiredController {
  @Get(['hub', 'notifications/hub', 'anonymous-hub', 'notifications/anonymous-hub'])
  @HttpCode(400)
  upgradeRequired(): UpgradeRequiredBody {
    return {
      error: 'websocket_required',
      message:
        'this is a SignalR hub: it answers only a WebSocket upgrade. A reverse proxy in front of Herald must ' +
        'pass the Upgrade and Connection headers (see docs/operations.md, "Reverse proxy").',
    };
  }
}
