import { timingSafeEqual } from "node:crypto";
import type { MiddlewareObj } from "@middy/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from "aws-lambda";
import {
  MalformedJsonError,
  OriginNotAllowedError,
  PayloadTooLargeError,
} from "../domain/errors.js";
import { logger } from "../platform/logger.js";
import { DomainError, domainErrorResponse, INTERNAL_ERROR_RESPONSE } from "./error-mapping.js";

/**
 * Small middy middlewares shared by the HTTP handlers. They are written here
 * rather than taken from @middy/http-json-body-parser and
 * @middy/http-error-handler because ours must render the project's error
 * shape and codes (and a body limit) exactly; both are a few lines.
 */

type HttpMiddleware<E extends APIGatewayProxyEventV2> = MiddlewareObj<E, APIGatewayProxyResultV2>;

export interface ParsedBody {
  /** The JSON body, or undefined when the request had none. */
  jsonBody?: unknown;
}

/**
 * Rejects bodies over `maxBytes` (413) and parses JSON (400 when malformed).
 * The size check runs on the decoded bytes, before any parsing.
 */
export function jsonBody<E extends APIGatewayProxyEventV2>(maxBytes: number): HttpMiddleware<E> {
  return {
    before: (request) => {
      const event = request.event as E & ParsedBody;
      const raw = event.body;
      if (raw === undefined || raw === null || raw === "") return;
      const text = event.isBase64Encoded ? Buffer.from(raw, "base64").toString("utf8") : raw;
      if (Buffer.byteLength(text, "utf8") > maxBytes) throw new PayloadTooLargeError(maxBytes);
      if (text.trim() === "") return;
      try {
        event.jsonBody = JSON.parse(text);
      } catch {
        throw new MalformedJsonError();
      }
    },
  };
}

/**
 * Turns domain errors into their HTTP response and anything else into a
 * generic 500 that reveals nothing; the stack goes to the log only.
 */
export function httpErrors<E extends APIGatewayProxyEventV2>(): HttpMiddleware<E> {
  return {
    onError: (request) => {
      const error = request.error;
      if (error instanceof DomainError) {
        request.response = domainErrorResponse(error);
        // Refusals are the bulk of a sale's traffic: logged at debug, so only the
        // invocations Powertools samples (POWERTOOLS_LOGGER_SAMPLE_RATE) write them.
        logger.debug("request refused", { code: error.code, status: request.response.statusCode });
        return;
      }
      logger.error("unhandled error", error instanceof Error ? error : String(error));
      request.response = INTERNAL_ERROR_RESPONSE;
    },
  };
}

/** The header CloudFront adds to every request it forwards (lib/constructs/edge.ts). */
export const ORIGIN_VERIFY_HEADER = "x-origin-verify";

/**
 * Behind the edge: refuses (403 ORIGIN_NOT_ALLOWED) a request whose origin header is not
 * the edge's secret, i.e. one sent to the execute-api URL directly, around WAF. HTTP APIs
 * take no WAF and no resource policy, so the function checks; it costs one constant-time
 * compare of a few dozen bytes, no I/O: the buy path stays one Redis call and one SQS send.
 * Without an edge (and in the local stack) the handlers do not use it at all.
 */
export function originVerified<E extends APIGatewayProxyEventV2>(
  secret: string,
): HttpMiddleware<E> {
  const expected = Buffer.from(secret, "utf8");
  return {
    before: (request) => {
      const given = request.event.headers?.[ORIGIN_VERIFY_HEADER];
      const actual = Buffer.from(given ?? "", "utf8");
      if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
        throw new OriginNotAllowedError();
      }
    },
  };
}
