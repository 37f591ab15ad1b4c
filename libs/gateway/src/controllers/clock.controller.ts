import { Controller, Get, Header } from '@nestjs/common';

/** Unauthenticated liveness that Bitwarden clients and proxies probe: the current UTC time as a JSON string. */
@Controller()
export class ClockController {
  @Get(['alive', 'now', 'notifications/alive', 'notifications/now'])
  @Header('Content-Type', 'application/json; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  now(): string {
    return JSON.stringify(new Date().toISOString());
  }
}
