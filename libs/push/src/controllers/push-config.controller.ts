import { Controller, Get, Inject } from '@nestjs/common';

import { type PushConfig } from '../config/push.config';
import { PUSH_CONFIG } from '../push.tokens';

/**
 * What the vault API puts under `push` in its `/api/config` for browser extensions: Web Push
 * (pushTechnology 1) with the VAPID public key as unpadded base64url, when Web Push is set up.
 */
@Controller()
export class PushConfigController {
  constructor(@Inject(PUSH_CONFIG) private readonly config: PushConfig) {}

  @Get(['push/config', 'api/config/push'])
  pushConfig(): { pushTechnology: number; vapidPublicKey: string | null } {
    const key = this.config.HERALD_VAPID_PUBLIC_KEY;
    return key
      ? { pushTechnology: 1, vapidPublicKey: key.replace(/=+$/, '') }
      : { pushTechnology: 0, vapidPublicKey: null };
  }
}
