// GraphQL operations built from schema.graphql, so tests cover every field the schema has,
// including ones added later: minimal calls of each mutation (scope matrix) and random valid and
// invalid operations (fuzz), from a seeded generator.
import { readFileSync } from "node:fs";
import {
  type GraphQLArgument, type GraphQLField, type GraphQLInputType, type GraphQLOutputType, type GraphQLSchema, buildSchema,
  getNamedType, isEnumType, isInputObjectType, isListType, isNonNullType, isObjectType, isScalarType, isInterfaceType,
} from "graphql";
import { SCHEMA_PATH } from "../../src/api/server.ts";

export function loadSchema(): GraphQLSchema {
  return buildSchema(readFileSync(SCHEMA_PATH, "utf8"));
}

/** Every field of the Mutation type, as the schema declares it now. */
export function mutationFields(schema: GraphQLSchema): GraphQLField<unknown, unknown>[] {
  return Object.values(schema.getMutationType()?.getFields() ?? {});
}

/** A value literal for a scalar/enum type: the same harmless placeholder every time. */
function placeholderLiteral(type: GraphQLInputType): string {
  if (isNonNullType(type)) return placeholderLiteral(type.ofType);
  if (isListType(type)) return `[${placeholderLiteral(type.ofType)}]`;
  if (isEnumType(type)) return type.getValues()[0].name;
  if (isInputObjectType(type)) {
    const required = Object.values(type.getFields()).filter((f) => isNonNullType(f.type) && f.defaultValue === undefined);
    return `{ ${required.map((f) => `${f.name}: ${placeholderLiteral(f.type)}`).join(", ")} }`;
  }
  switch (getNamedType(type).name) {
    case "Int":
      return "1";
    case "Float":
      return "1.0";
    case "Boolean":
      return "false";
    case "ID":
      return `"999999999"`;
    default:
      return `"no-such-thing"`;
  }
}

/** The smallest valid selection of a return type. */
function minimalSelection(type: GraphQLOutputType): string {
  const named = getNamedType(type);
  return isObjectType(named) || isInterfaceType(named) ? " { __typename }" : "";
}

/** A call of `field` with every required argument set to a placeholder (unknown model, id...). */
export function minimalCall(kind: "query" | "mutation", field: GraphQLField<unknown, unknown>): string {
  const required = field.args.filter((a) => isNonNullType(a.type) && a.defaultValue === undefined);
  const args = required.length ? `(${required.map((a) => `${a.name}: ${placeholderLiteral(a.type)}`).join(", ")})` : "";
  return `${kind} { ${field.name}${args}${minimalSelection(field.type)} }`;
}

// ---------------------------------------------------------------------------------------------
// Fuzzing

export interface FuzzRequest {
  /** The JSON body sent (usually { query, variables }, sometimes something else). */
  body: unknown;
  valid: boolean;
}

/** Values the generator draws from: real ids mixed with edge cases. */
export interface FuzzVocabulary {
  strings: string[];
  ids: string[];
}

const EDGE_INTS = [-2147483648, -1, 0, 1, 2, 5, 20, 99, 100, 101, 1000, 2147483647];
const EDGE_FLOATS = [-1, 0, 1e-9, 0.5, 1, 2, 100, 101, 1e308, -1e308];
const EDGE_STRINGS = ["", " ", "\u00e9", "[MASK]", "The capital of France is [MASK] .", "日本", "'; DROP TABLE fact; --", "\\", "%", "a".repeat(300), "\u{1F600}"];

export class OperationFuzzer {
  constructor(
    private readonly schema: GraphQLSchema,
    private readonly random: () => number,
    private readonly vocabulary: FuzzVocabulary,
  ) {}

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)];
  }

  private chance(p: number): boolean {
    return this.random() < p;
  }

  private scalarLiteral(name: string): string {
    switch (name) {
      case "Int":
        return String(this.pick(EDGE_INTS));
      case "Float":
        return String(this.pick(EDGE_FLOATS));
      case "Boolean":
        return this.pick(["true", "false"]);
      case "ID":
        return JSON.stringify(this.pick([...this.vocabulary.ids, ...EDGE_STRINGS]));
      default:
        return JSON.stringify(this.pick([...this.vocabulary.strings, ...EDGE_STRINGS]));
    }
  }

  /** A literal of `type`, sometimes null or a list of several. */
  valueLiteral(type: GraphQLInputType, depth = 0): string {
    if (isNonNullType(type)) return this.valueLiteral(type.ofType, depth);
    if (!isNonNullType(type) && this.chance(0.05)) return "null";
    if (isListType(type)) {
      const n = this.pick([0, 1, 1, 2, 3]);
      return `[${Array.from({ length: n }, () => this.valueLiteral(type.ofType, depth + 1)).join(", ")}]`;
    }
    if (isEnumType(type)) return this.pick(type.getValues()).name;
    if (isInputObjectType(type)) {
      const fields = Object.values(type.getFields()).filter((f) => isNonNullType(f.type) || (depth < 2 && this.chance(0.5)));
      return `{ ${fields.map((f) => `${f.name}: ${this.valueLiteral(f.type, depth + 1)}`).join(", ")} }`;
    }
    if (isScalarType(type)) return this.scalarLiteral(type.name);
    return "null";
  }

  private argumentList(args: readonly GraphQLArgument[]): string {
    const chosen = args.filter((a) => isNonNullType(a.type) || this.chance(0.5));
    return chosen.length ? `(${chosen.map((a) => `${a.name}: ${this.valueLiteral(a.type)}`).join(", ")})` : "";
  }

  /** A selection set of the named type, up to `depth` levels below. */
  private selection(type: GraphQLOutputType, depth: number): string {
    const named = getNamedType(type);
    if (!isObjectType(named) && !isInterfaceType(named)) return "";
    const fields = Object.values(named.getFields());
    const leaves = fields.filter((f) => !isObjectType(getNamedType(f.type)));
    const chosen = new Set<GraphQLField<unknown, unknown>>();
    const n = 1 + Math.floor(this.random() * 3);
    for (let i = 0; i < n; i++) chosen.add(this.pick(depth <= 0 && leaves.length ? leaves : fields));
    const parts = [...chosen].map((f) => {
      const alias = this.chance(0.1) ? `a${Math.floor(this.random() * 1000)}: ` : "";
      const sub = isObjectType(getNamedType(f.type)) ? this.selection(f.type, depth - 1) || " { __typename }" : "";
      return `${alias}${f.name}${this.argumentList(f.args)}${sub}`;
    });
    if (this.chance(0.1)) parts.push("__typename");
    return ` { ${parts.join(" ")} }`;
  }

  /** A syntactically and type-correct operation (its values may still be refused by resolvers). */
  validOperation(): string {
    const mutation = this.chance(0.15);
    const root = mutation ? this.schema.getMutationType()! : this.schema.getQueryType()!;
    const fields = Object.values(root.getFields());
    const n = 1 + Math.floor(this.random() * 2);
    const parts: string[] = [];
    for (let i = 0; i < n; i++) {
      const f = this.pick(fields);
      const selection = isObjectType(getNamedType(f.type)) ? this.selection(f.type, 3) : "";
      parts.push(`f${i}: ${f.name}${this.argumentList(f.args)}${selection}`);
    }
    return `${mutation ? "mutation" : "query"} { ${parts.join(" ")} }`;
  }

  /** A broken variant of a valid operation: syntax damage, unknown names, wrong types, junk. */
  private invalidQuery(): unknown {
    const base = this.validOperation();
    switch (Math.floor(this.random() * 8)) {
      case 0: {
        const at = Math.floor(this.random() * base.length);
        return base.slice(0, at) + base.slice(at + 1);
      }
      case 1: {
        const at = Math.floor(this.random() * base.length);
        return base.slice(0, at) + this.pick(["{", "}", "(", ")", ":", "$", "@", "...", "\"", "#", "!", "[", "0x1"]) + base.slice(at);
      }
      case 2:
        return base.replace(/\b([a-z][A-Za-z]+)(?=[ ({])/, "noSuchField");
      case 3:
        return base.replace(/: (-?\d+(\.\d+)?)/, ': "not a number"').replace(/: "([^"]*)"/, ": 12345");
      case 4:
        return Array.from({ length: 1 + Math.floor(this.random() * 200) }, () => String.fromCharCode(32 + Math.floor(this.random() * 95))).join("");
      case 5:
        return this.pick([42, null, true, { query: "{ health { ok } }" }, ["{ health { ok } }"]]);
      case 6:
        return `${base} ${base}`; // two anonymous operations
      default:
        return `query($x: Int!) { facts(first: $x) { totalCount } }`;
    }
  }

  next(): FuzzRequest {
    if (this.chance(0.6)) return { body: { query: this.validOperation() }, valid: true };
    const query = this.invalidQuery();
    const variables = this.chance(0.3) ? this.pick<unknown>([{ x: "seven" }, { x: 2 ** 40 }, { x: null }, "not an object", [1, 2]]) : undefined;
    const body = this.chance(0.05) ? this.pick<unknown>([[], "just a string", 7, null]) : { query, ...(variables === undefined ? {} : { variables }) };
    return { body, valid: false };
  }
}
