import { inject } from "vitest";

// Runs before each test file is imported, so handler modules read these at their cold start.
Object.assign(process.env, inject("serviceEnv"), {
  POWERTOOLS_LOG_LEVEL: "SILENT",
  AWS_SDK_JS_SUPPRESS_NODE_VERSION_WARNING: "true",
});
