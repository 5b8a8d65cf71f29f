// Docker cannot run here: check the compose file's services and their wiring instead.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

interface Service {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  ports?: string[];
  healthcheck?: { test: string[] };
  deploy?: { resources?: { reservations?: { devices?: { driver: string; count: number; capabilities: string[] }[] } } };
}

const compose = parse(readFileSync(join(import.meta.dirname, "../docker-compose.yml"), "utf8")) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};

describe("docker-compose.yml", () => {
  const { services } = compose;

  it("has postgres, api and an indexer worker", () => {
    expect(Object.keys(services).sort()).toEqual(["api", "postgres", "worker"]);
    expect(services.postgres.image).toMatch(/^postgres:\d+/);
    expect(services.postgres.healthcheck?.test.join(" ")).toContain("pg_isready");
  });

  it("points api and worker at the compose database, after it is healthy", () => {
    const pg = services.postgres.environment!;
    const expected = `postgresql://${pg.POSTGRES_USER}:${pg.POSTGRES_PASSWORD}@postgres:5432/${pg.POSTGRES_DB}`;
    for (const name of ["api", "worker"]) {
      expect(services[name].environment?.DATABASE_URL).toBe(expected);
      expect(services[name].depends_on?.postgres?.condition).toBe("service_healthy");
    }
  });

  it("publishes the GraphQL port of the api and runs the real CLI commands", () => {
    expect(services.api.ports).toContain(`${services.api.environment!.PORT}:4000`);
    expect(services.api.command!.join(" ")).toMatch(/kn -- serve/);
    expect(services.worker.command!.join(" ")).toMatch(/kn -- worker/);
  });

  it("reserves an NVIDIA GPU for the worker and selects the native tensorflow backend", () => {
    const devices = services.worker.deploy?.resources?.reservations?.devices ?? [];
    expect(devices).toContainEqual(expect.objectContaining({ driver: "nvidia", capabilities: expect.arrayContaining(["gpu"]) }));
    expect(services.worker.environment?.KN_BACKEND).toBe("tensorflow");
  });
});
