import { fileURLToPath } from "node:url";

/** The repository root: lambdas/, lua/ and package-lock.json live here. */
export const PROJECT_ROOT = fileURLToPath(new URL("..", import.meta.url));
