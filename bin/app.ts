import { App, Tags, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { readSettings } from "../lib/config.js";
import { FlashSaleStack } from "../lib/flash-sale-stack.js";
import { LocalStackFlashSaleStack } from "../lib/localstack-stack.js";

/**
 * `npx cdk synth|deploy [-c stage=prod -c jwtIssuer=... -c jwtAudience=...]`
 * `npx cdklocal deploy -c target=localstack` (see README, "LocalStack").
 * Env-agnostic: synth needs no AWS account, credentials or network.
 */
const app = new App();
const settings = readSettings(app.node);

if (settings.target === "aws") {
  const stack = new FlashSaleStack(app, `FlashSale-${settings.stage}`, {
    settings,
    description: `Flash Sale Engine (${settings.stage})`,
  });
  Tags.of(stack).add("project", "flash-sale");
  Tags.of(stack).add("stage", settings.stage);
  // cdk-nag: any unacknowledged AwsSolutions error fails the synth.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
} else {
  const stack = new LocalStackFlashSaleStack(app, `FlashSale-${settings.stage}-local`, {
    settings,
    description: `Flash Sale Engine (${settings.stage}, LocalStack)`,
  });
  Tags.of(stack).add("project", "flash-sale");
}
