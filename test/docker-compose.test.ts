// Docker cannot run here: check the compose file's services and their wiring, the Dockerfile's
// targets and the load balancer's configuration instead.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

interface Service {
  image?: string;
  build?: { context: string; target: string };
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  ports?: string[];
  expose?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
  deploy?: { replicas?: number; resources?: { reservations?: { devices?: { driver: string; count: number; capabilities: string[] }[] } } };
}

const ROOT = join(import.meta.dirname, "..");
const compose = parse(readFileSync(join(ROOT, "docker-compose.yml"), "utf8"), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");
const haproxy = readFileSync(join(ROOT, "deploy/haproxy.cfg"), "utf8");

describe("docker-compose.yml", () => {
  const { services } = compose;

  it("has postgres, a one-shot migration, API replicas behind a load balancer, and indexer workers", () => {
    expect(Object.keys(services).sort()).toEqual(["api", "lb", "migrate", "postgres", "worker"]);
    expect(services.postgres.image).toMatch(/^postgres:\d+/);
    expect(services.postgres.healthcheck?.test.join(" ")).toContain("pg_isready");
    expect(services.api.deploy?.replicas).toBeGreaterThanOrEqual(2);
    expect(services.worker.deploy?.replicas).toBeGreaterThanOrEqual(2);
  });

  it("points every service at the compose database; migrations run once before the replicas start", () => {
    const pg = services.postgres.environment!;
    const expected = `postgresql://${pg.POSTGRES_USER}:${pg.POSTGRES_PASSWORD}@postgres:5432/${pg.POSTGRES_DB}`;
    for (const name of ["migrate", "api", "worker"]) expect(services[name].environment?.DATABASE_URL).toBe(expected);
    expect(services.migrate.depends_on?.postgres?.condition).toBe("service_healthy");
    expect(services.migrate.command!.join(" ")).toMatch(/kn -- db:migrate$/);
    for (const name of ["api", "worker"]) expect(services[name].depends_on?.migrate?.condition).toBe("service_completed_successfully");
  });

  it("builds images once from the Dockerfile's targets instead of installing packages at every start", () => {
    const targets = [...dockerfile.matchAll(/^FROM \S+ AS (\S+)$/gm)].map((m) => m[1]);
    for (const name of ["migrate", "api", "worker"]) {
      expect(targets).toContain(services[name].build?.target);
      expect(services[name].command!.join(" ")).not.toMatch(/npm (ci|install)/);
    }
    expect(services.api.image).toBe(services.migrate.image);
    expect(dockerfile).toMatch(/RUN npm ci/);
    expect(dockerfile).toMatch(/RUN npm run --silent prepare:generate/);
  });

  it("publishes GraphQL through the load balancer only (replicas cannot share a host port)", () => {
    expect(services.api.ports).toBeUndefined();
    expect(services.api.expose).toContain(services.api.environment!.PORT);
    expect(services.api.command!.join(" ")).toMatch(/kn -- serve$/);
    expect(services.api.environment!.KN_WORKERS).toBe("0"); // indexing is the GPU workers' job
    expect(services.lb.ports).toContain("4000:4000");
    expect(services.lb.volumes).toContain("./deploy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro");
  });

  it("balances over every API replica, checks /healthz, and passes the client address the API trusts", () => {
    expect(haproxy).toMatch(/^\s*bind :4000$/m);
    expect(haproxy).toMatch(new RegExp(`server-template api \\d+ api:${services.api.environment!.PORT} check resolvers docker`));
    expect(haproxy).toMatch(/option httpchk GET \/healthz/);
    expect(haproxy).toMatch(/^\s*option forwardfor$/m);
    expect(services.api.environment!.KN_TRUST_PROXY).toBe("1");
  });

  it("reserves an NVIDIA GPU for each worker and selects the native tensorflow backend", () => {
    const devices = services.worker.deploy?.resources?.reservations?.devices ?? [];
    expect(devices).toContainEqual(expect.objectContaining({ driver: "nvidia", count: 1, capabilities: expect.arrayContaining(["gpu"]) }));
    expect(services.worker.environment?.KN_BACKEND).toBe("tensorflow");
    expect(services.worker.command!.join(" ")).toMatch(/kn -- worker$/);
    expect(dockerfile).toMatch(/FROM nvidia\/cuda:\S+ AS gpu-worker/);
    expect(dockerfile).toMatch(/npm install --no-save @tensorflow\/tfjs-node-gpu/);
  });
});
