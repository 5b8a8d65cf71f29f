# One image for the API and the CPU tools, built once (npm ci at build time, not at every start:
# replicas sharing a bind-mounted node_modules would race), and a GPU worker image on top of
# CUDA 11.2 + cuDNN 8 (what @tensorflow/tfjs-node-gpu 4.x links against).
FROM node:20-bookworm AS app
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci
COPY . .
RUN npm run --silent prepare:generate
ENV NODE_ENV=production
EXPOSE 4000
CMD ["npm", "run", "--silent", "kn", "--", "serve"]

FROM nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04 AS gpu-worker
# Node 20 from the official image (its binaries need glibc >= 2.28; Ubuntu 20.04 has 2.31)
COPY --from=node:20-bookworm /usr/local/bin /usr/local/bin
COPY --from=node:20-bookworm /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=app /app /app
# downloads libtensorflow with CUDA support: needs network access at build time
RUN npm install --no-save @tensorflow/tfjs-node-gpu@4.22
ENV NODE_ENV=production KN_BACKEND=tensorflow
CMD ["npm", "run", "--silent", "kn", "--", "worker"]
