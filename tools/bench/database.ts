// The database a benchmark fills: `name` on the server of the admin URL, dropped and created fresh.
import pg from "pg";

export function benchDatabase(adminUrl: string, name: string) {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  async function admin<T>(fn: (c: pg.Client) => Promise<T>, target = adminUrl): Promise<T> {
    const c = new pg.Client({ connectionString: target });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  }
  return {
    url: url.toString(),
    admin,
    /** Drops the database (if any) and creates it empty. */
    recreate: () =>
      admin(async (c) => {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await c.query(`CREATE DATABASE ${name}`);
      }),
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)),
  };
}
