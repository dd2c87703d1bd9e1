import { inject } from "vitest";

// Runs before each test file is imported, so handler modules read these at their cold start.
Object.assign(process.env, inject("serviceEnv"));
