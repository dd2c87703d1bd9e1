import { describe, expect, it } from "vitest";
import {
  DEFAULT_LOCAL_JWT_SECRET,
  isLoopbackHost,
  localJwtSettings,
  usesDevelopmentSecret,
} from "../../local/auth.js";

describe("isLoopbackHost", () => {
  it.each([
    "127.0.0.1",
    "127.1.2.3",
    "127.255.255.255",
    "localhost",
    "LOCALHOST",
    "::1",
    "[::1]",
    "0:0:0:0:0:0:0:1",
    "::ffff:127.0.0.1",
  ])("%s is loopback", (host) => {
    expect(isLoopbackHost(host)).toBe(true);
  });

  it.each([
    "0.0.0.0",
    "::",
    "",
    "192.168.1.10",
    "128.0.0.1",
    "127.0.0.256",
    "10.127.0.1",
    "::ffff:10.0.0.1",
    "example.com",
    "localhost.example.com",
    "127.0.0.1.nip.io",
  ])("%j is not loopback", (host) => {
    expect(isLoopbackHost(host)).toBe(false);
  });
});

describe("usesDevelopmentSecret", () => {
  it("is true without LOCAL_JWT_SECRET, when it is empty or when it is the built-in one", () => {
    expect(usesDevelopmentSecret(localJwtSettings({}))).toBe(true);
    expect(usesDevelopmentSecret(localJwtSettings({ LOCAL_JWT_SECRET: "" }))).toBe(true);
    expect(
      usesDevelopmentSecret(localJwtSettings({ LOCAL_JWT_SECRET: DEFAULT_LOCAL_JWT_SECRET })),
    ).toBe(true);
    expect(usesDevelopmentSecret(localJwtSettings({ LOCAL_JWT_SECRET: "s3cret" }))).toBe(false);
  });
});
