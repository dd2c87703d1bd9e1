import { getSecret } from "@aws-lambda-powertools/parameters/secrets";

/**
 * Secrets Manager reads, cached by Powertools for the life of the container
 * (maxAge below), so a cold start pays one call and warm invocations none.
 */
export async function secretString(arn: string): Promise<string> {
  const value = await getSecret(arn, { maxAge: 3600 });
  if (typeof value !== "string" || value === "")
    throw new Error(`Secret ${arn} has no string value`);
  return value;
}

export async function secretJson<T>(arn: string): Promise<T> {
  return JSON.parse(await secretString(arn)) as T;
}
