import {
  BadRequestException,
  Body,
  Controller,
  HttpCode,
  Inject,
  Param,
  Post,
  UseGuards,
} from '@nestjs/common';

import { isGuid } from '@herald/contracts';
import { CONTROL_BUS, type ControlBus } from '@herald/messaging';
import { InjectLogger, type Logger } from '@herald/platform';

import { InternalTokenGuard } from './internal-token.guard';

/**
 * Cluster-wide disconnect (deauthorization, account disabled): every gateway closes every live
 * connection of the user. The same command may be published on NATS directly.
 */
@Controller()
@UseGuards(InternalTokenGuard)
export class ControlController {
  constructor(
    @Inject(CONTROL_BUS) private readonly control: ControlBus,
    @InjectLogger('ControlController') private readonly logger: Logger,
  ) {}

  @Post(['users/:userId/disconnect', 'notifications/users/:userId/disconnect'])
  @HttpCode(202)
  async disconnect(@Param('userId') userId: string, @Body() body: unknown): Promise<void> {
    if (!isGuid(userId)) {
      throw new BadRequestException({
        error: 'invalid_request',
        message: 'userId must be a GUID',
        field: 'userId',
      });
    }
    const reason =
      typeof body === 'object' && body !== null && typeof (body as { reason?: unknown }).reason === 'string'
        ? (body as { reason: string }).reason.slice(0, 200)
        : 'requested';
    await this.control.disconnectUser(userId.toLowerCase(), reason);
    this.logger.info({ userId: userId.toLowerCase(), reason }, 'cluster-wide disconnect requested');
  }
}
