import { RemovalPolicy, Validations } from "aws-cdk-lib";
import {
  FlowLogDestination,
  FlowLogTrafficType,
  InterfaceVpcEndpointAwsService,
  type SubnetSelection,
  SubnetType,
  Vpc,
} from "aws-cdk-lib/aws-ec2";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";

export interface NetworkProps {
  maxAzs: number;
  /** Explicit zone names (lib/config.ts: required for more than two on an environment-agnostic stack). */
  availabilityZones?: string[];
  logRetention: RetentionDays;
  removalPolicy?: RemovalPolicy;
}

/**
 * A VPC with no internet path at all: isolated subnets for the functions
 * ("app") and for the cache and the database ("data"), and interface
 * endpoints for the only AWS APIs the functions call (SQS, Secrets Manager),
 * so no NAT gateway is needed.
 */
export class Network extends Construct {
  readonly vpc: Vpc;
  readonly appSubnets: SubnetSelection = { subnetGroupName: "app" };
  readonly dataSubnets: SubnetSelection = { subnetGroupName: "data" };

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);

    const flowLogs = new LogGroup(this, "FlowLogs", {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
    });
    this.vpc = new Vpc(this, "Vpc", {
      ...(props.availabilityZones
        ? { availabilityZones: props.availabilityZones }
        : { maxAzs: props.maxAzs }),
      natGateways: 0,
      subnetConfiguration: [
        { name: "app", subnetType: SubnetType.PRIVATE_ISOLATED, cidrMask: 22 },
        { name: "data", subnetType: SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
      restrictDefaultSecurityGroup: true,
      flowLogs: {
        all: {
          destination: FlowLogDestination.toCloudWatchLogs(flowLogs),
          trafficType: FlowLogTrafficType.REJECT,
        },
      },
    });

    // Private DNS makes the regular SDK endpoints resolve to these, VPC-wide;
    // `open` admits HTTPS from the VPC's CIDR (the functions and the RDS Proxy).
    for (const [name, service] of [
      ["SqsEndpoint", InterfaceVpcEndpointAwsService.SQS],
      ["SecretsManagerEndpoint", InterfaceVpcEndpointAwsService.SECRETS_MANAGER],
      // PutEvents of the integration events (the consumer and the repair).
      ["EventsEndpoint", InterfaceVpcEndpointAwsService.EVENTBRIDGE],
    ] as const) {
      const endpoint = this.vpc.addInterfaceEndpoint(name, {
        service,
        subnets: this.appSubnets,
        privateDnsEnabled: true,
        open: true,
      });
      Validations.of(endpoint).acknowledge({
        id: "AwsSolutions-EC23",
        reason:
          "The endpoint admits HTTPS from the VPC's own CIDR, never 0.0.0.0/0; cdk-nag cannot evaluate the CIDR because it is a CloudFormation token (Fn::GetAtt Vpc.CidrBlock).",
      });
    }
  }
}
