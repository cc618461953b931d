# fedlet container image: multi-stage, runs as a non-root user on a read-only root filesystem.
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY provider ./provider
COPY scheduler-plugin ./scheduler-plugin
COPY sandbox ./sandbox
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# uid/gid 65532: no login shell, owns nothing in the image.
USER 65532:65532
EXPOSE 10250 10248 8888
ENTRYPOINT ["node", "dist/app/cli.js"]
CMD ["run"]
