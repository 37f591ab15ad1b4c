import { Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import { type Request, type Response } from 'express';

import { SignalRServer } from '@herald/signalr';

/** SignalR negotiate for clients that do not skip it (Bitwarden's own clients do). */
@Controller()
export class NegotiateController {
  constructor(private readonly server: SignalRServer) {}

  @Post([
    'hub/negotiate',
    'notifications/hub/negotiate',
    'anonymous-hub/negotiate',
    'notifications/anonymous-hub/negotiate',
  ])
  @HttpCode(200)
  async negotiate(@Req() request: Request, @Res() response: Response): Promise<void> {
    const { status, body } = await this.server.negotiate(request);
    response.status(status).json(body);
  }
}
