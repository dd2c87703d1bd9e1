import * as z from "zod";

/**
 * What a buyer id is: the one rule shared by the buy path (the token's `sub`),
 * the SQS message schema, the consumer and the orders table, so that whatever
 * the buy path answers 202 for, every later stage can finish.
 *
 * A buyer id is a non-blank string of at most MAX_BUYER_ID_LENGTH UTF-16 code
 * units that is well-formed Unicode (no lone surrogate, which would turn into
 * U+FFFD on its way to Redis and Postgres, so the stored id would differ from
 * the one checked) and holds no control character (C0, DEL, C1): Postgres
 * `text` refuses NUL, and `\n` separates the buyer from the key in Redis'
 * idempotency index. Every other character, including those outside the
 * Basic Multilingual Plane, is a valid part of an id.
 */

export const MAX_BUYER_ID_LENGTH = 256;

// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what it finds
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;

/** Why `value` is not a valid buyer id, or undefined when it is one. */
export function buyerIdProblem(value: unknown): string | undefined {
  if (typeof value !== "string") return "must be a string";
  if (value.trim() === "") return "must not be blank";
  if (value.length > MAX_BUYER_ID_LENGTH) {
    return `must be at most ${MAX_BUYER_ID_LENGTH} characters`;
  }
  if (!value.isWellFormed()) return "must be well-formed Unicode (it holds a lone surrogate)";
  if (CONTROL_CHARACTER.test(value)) return "must not contain control characters";
  return undefined;
}

export const buyerIdSchema = z.string().superRefine((value, context) => {
  const problem = buyerIdProblem(value);
  if (problem !== undefined) context.addIssue({ code: "custom", message: `userId ${problem}` });
});
