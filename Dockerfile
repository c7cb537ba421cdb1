# unit-operator image: the unitctl CLI (agent / controller) on Node 24.
# Build: docker build -t unit-operator:dev .   (not buildable on the dev machines: no Docker engine)
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:24-bookworm-slim
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY src ./src
COPY crds ./crds
USER node
ENTRYPOINT ["node", "/app/bin/unitctl.js"]
CMD ["--help"]
