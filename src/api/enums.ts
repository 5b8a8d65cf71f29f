// GraphQL enum values <-> the names used in the database and on the command line.
import type { Method } from "../attribution/integrated-gradients.ts";

export const methodFromApi = (m: string | null | undefined): Method => (m ?? "AMIG_COMPAT").toLowerCase().replace("_", "-") as Method;
export const methodToApi = (m: string): string => m.toUpperCase().replace("-", "_");
export const targetModeFromApi = (m: string | null | undefined): string => (m ?? "CLEAN").toLowerCase();
