import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { NodeHttpHandler } from "@smithy/node-http-handler";

/**
 * The HTTP handler every AWS SDK client of ours uses: keep-alive sockets and
 * hard deadlines. The SDK's default handler has no request timeout, so a
 * black-holed endpoint would hang the caller until the Lambda timed out; here
 * a call fails within maxAttempts × (connect + request timeout). Note
 * `throwOnRequestTimeout`: without it, current @smithy/node-http-handler only
 * logs a warning when requestTimeout passes and keeps waiting. Both agents,
 * since an endpoint off AWS (a local server) may be plain http.
 */
export function awsRequestHandler(deadlines: {
  connectTimeoutMs: number;
  requestTimeoutMs: number;
}): NodeHttpHandler {
  const agentOptions = { keepAlive: true, maxSockets: 256 };
  return new NodeHttpHandler({
    connectionTimeout: deadlines.connectTimeoutMs,
    requestTimeout: deadlines.requestTimeoutMs,
    throwOnRequestTimeout: true,
    httpAgent: new HttpAgent(agentOptions),
    httpsAgent: new HttpsAgent(agentOptions),
  });
}
