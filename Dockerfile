# One image per service: docker build --build-arg APP=gateway (dispatcher, push-worker, heartbeat,
# vaultwarden-bridge).
# syntax=docker/dockerfile:1

FROM node:20.20-bookworm-slim AS build
WORKDIR /herald
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
ARG APP=gateway
RUN NX_NO_CLOUD=true NX_DAEMON=false npx nx run ${APP}:build --skip-nx-cache \
 && npm prune --omit=dev --no-audit --no-fund

FROM node:20.20-bookworm-slim
ARG APP=gateway
ENV NODE_ENV=production APP=${APP}
WORKDIR /herald
COPY --from=build /herald/package.json ./
COPY --from=build /herald/node_modules ./node_modules
COPY --from=build /herald/dist/${APP} ./dist/${APP}
USER node
STOPSIGNAL SIGTERM
CMD ["sh", "-c", "exec node dist/${APP}/apps/${APP}/src/main.js"]
