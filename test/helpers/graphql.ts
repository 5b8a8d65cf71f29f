// Real HTTP requests to a running GraphQL server.
export interface GraphQLResponse<T = Record<string, unknown>> {
  status: number;
  data?: T;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

export async function gql<T = Record<string, unknown>>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<GraphQLResponse<T>> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, ...((await res.json()) as { data?: T; errors?: GraphQLResponse["errors"] }) };
}

export const codes = (r: GraphQLResponse) => (r.errors ?? []).map((e) => e.extensions?.code);

/** A query sent as GET /graphql?query=…&variables=… (what HTTP caches can keep), with the response headers. */
export async function gqlGet<T = Record<string, unknown>>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = { "apollo-require-preflight": "true" },
): Promise<GraphQLResponse<T> & { headers: Headers }> {
  const u = new URL(url);
  u.searchParams.set("query", query);
  u.searchParams.set("variables", JSON.stringify(variables));
  const res = await fetch(u, { headers });
  return { status: res.status, headers: res.headers, ...((await res.json()) as { data?: T; errors?: GraphQLResponse["errors"] }) };
}
