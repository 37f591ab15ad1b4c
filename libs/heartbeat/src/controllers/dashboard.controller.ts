import { Controller, Get, Header, Req, Res } from '@nestjs/common';
import { type Request, type Response } from 'express';

import { DASHBOARD_CSS, DASHBOARD_HTML, DASHBOARD_JS } from '../dashboard/dashboard-assets';

/** The live dashboard: a page and its assets, all served by Herald (no CDN). */
@Controller()
export class DashboardController {
  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  page(@Req() request: Request, @Res({ passthrough: true }) response: Response): string | undefined {
    // The page fetches `info` and `history` relatively: under a path (`/dashboard` in the single
    // process, or a proxy's prefix) it must be loaded as a directory, with its trailing slash.
    if (!request.path.endsWith('/')) {
      const last = request.path.slice(request.path.lastIndexOf('/') + 1);
      const query = request.originalUrl.includes('?')
        ? request.originalUrl.slice(request.originalUrl.indexOf('?'))
        : '';
      response.redirect(301, `${last}/${query}`);
      return undefined;
    }
    return DASHBOARD_HTML;
  }

  @Get('dashboard.js')
  @Header('Content-Type', 'text/javascript; charset=utf-8')
  script(): string {
    return DASHBOARD_JS;
  }

  @Get('dashboard.css')
  @Header('Content-Type', 'text/css; charset=utf-8')
  style(): string {
    return DASHBOARD_CSS;
  }
}
