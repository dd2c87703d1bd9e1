import { RemovalPolicy } from "aws-cdk-lib";

/**
 * What happens to the stores of accepted orders and their evidence (the queues, the DLQ,
 * log groups, secrets) when the stack or the resource goes: kept in `prod`
 * (`-c retainData=true`, its profile default), deleted in disposable stages.
 */
export function dataRemovalPolicy(retainData: boolean): RemovalPolicy {
  return retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
}
