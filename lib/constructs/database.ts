import { Duration, RemovalPolicy, Validations } from "aws-cdk-lib";
import {
  Connections,
  type IConnectable,
  type IVpc,
  Peer,
  Port,
  SecurityGroup,
  type SubnetSelection,
} from "aws-cdk-lib/aws-ec2";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import {
  AuroraPostgresEngineVersion,
  ClusterInstance,
  Credentials,
  DatabaseCluster,
  DatabaseClusterEngine,
  type DatabaseProxy,
} from "aws-cdk-lib/aws-rds";
import type { ISecret } from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";

export interface DatabaseProps {
  vpc: IVpc;
  subnets: SubnetSelection;
  minCapacity: number;
  maxCapacity: number;
  readers: number;
  deletionProtection: boolean;
  logRetention: RetentionDays;
  stage: string;
  /** RDS Proxy ConnectionBorrowTimeout; below the functions' timeout (lib/config.ts). */
  borrowTimeoutSeconds?: number;
  /** The VPC's zones, in order: the writer goes in the first, reader i in zone i + 1 (mod n). */
  availabilityZones?: string[];
  maintenanceWindow?: string;
  backupWindow?: string;
  logRemovalPolicy?: RemovalPolicy;
  /** Of the generated credentials' secret (RETAIN in prod: a restored snapshot needs them). */
  secretRemovalPolicy?: RemovalPolicy;
}

type CfnResourceOwner = { applyRemovalPolicy(policy: RemovalPolicy): void };

export const DATABASE_NAME = "flashsale";
export const DATABASE_PORT = 5432;

/**
 * Aurora PostgreSQL Serverless v2 for the orders, credentials generated into
 * Secrets Manager, and an RDS Proxy in front of it: Lambda scales out to many
 * short-lived connections, the proxy pools them into a few database sessions.
 * Functions connect to the proxy (TLS required) with the secret's credentials.
 */
export class Database extends Construct implements IConnectable {
  readonly cluster: DatabaseCluster;
  readonly proxy: DatabaseProxy;
  readonly secret: ISecret;
  readonly name = DATABASE_NAME;
  readonly port = DATABASE_PORT;
  /** The RDS Proxy's security group: what functions are allowed to reach. */
  readonly connections: Connections;

  constructor(scope: Construct, id: string, props: DatabaseProps) {
    super(scope, id);

    const clusterSecurityGroup = new SecurityGroup(this, "ClusterSecurityGroup", {
      vpc: props.vpc,
      description: "Aurora cluster: inbound only from the RDS Proxy",
      allowAllOutbound: false,
    });
    const proxySecurityGroup = new SecurityGroup(this, "ProxySecurityGroup", {
      vpc: props.vpc,
      description: "RDS Proxy: inbound only from functions that use the database",
      allowAllOutbound: false,
    });

    // The log group RDS exports to, created first with a retention (instead of
    // cloudwatchLogsRetention, which adds a custom-resource Lambda to set it).
    const clusterIdentifier = `flash-sale-${props.stage}`;
    const zones =
      props.readers > 0 && props.availabilityZones && props.availabilityZones.length > 1
        ? props.availabilityZones
        : undefined;
    const postgresLogs = new LogGroup(this, "PostgresLogs", {
      logGroupName: `/aws/rds/cluster/${clusterIdentifier}/postgresql`,
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
    });

    this.connections = new Connections({
      securityGroups: [proxySecurityGroup],
      defaultPort: Port.tcp(DATABASE_PORT),
    });

    this.cluster = new DatabaseCluster(this, "Cluster", {
      clusterIdentifier,
      engine: DatabaseClusterEngine.auroraPostgres({
        version: AuroraPostgresEngineVersion.VER_16_9,
      }),
      credentials: Credentials.fromGeneratedSecret("flashsale_admin"),
      defaultDatabaseName: DATABASE_NAME,
      port: DATABASE_PORT,
      // With readers, each instance is pinned to a zone so a reader never shares the writer's.
      // (Pinning replaces the writer once on a stack that had none: a failover-like blip.)
      writer: ClusterInstance.serverlessV2("Writer", {
        autoMinorVersionUpgrade: true,
        availabilityZone: zones ? zones[0] : undefined,
        preferredMaintenanceWindow: props.maintenanceWindow,
      }),
      readers: Array.from({ length: props.readers }, (_, i) =>
        ClusterInstance.serverlessV2(`Reader${i + 1}`, {
          scaleWithWriter: true,
          availabilityZone: zones ? zones[(i + 1) % zones.length] : undefined,
          preferredMaintenanceWindow: props.maintenanceWindow,
        }),
      ),
      preferredMaintenanceWindow: props.maintenanceWindow,
      serverlessV2MinCapacity: props.minCapacity,
      serverlessV2MaxCapacity: props.maxCapacity,
      vpc: props.vpc,
      vpcSubnets: props.subnets,
      securityGroups: [clusterSecurityGroup],
      storageEncrypted: true,
      iamAuthentication: true,
      deletionProtection: props.deletionProtection,
      removalPolicy: RemovalPolicy.SNAPSHOT,
      backup: { retention: Duration.days(7), preferredWindow: props.backupWindow },
      cloudwatchLogsExports: ["postgresql"],
    });
    this.cluster.node.addDependency(postgresLogs);
    if (!this.cluster.secret) throw new Error("the cluster has no generated secret");
    this.secret = this.cluster.secret;
    if (props.secretRemovalPolicy) {
      (this.cluster.node.findChild("Secret") as unknown as CfnResourceOwner).applyRemovalPolicy(
        props.secretRemovalPolicy,
      );
    }

    // cluster.secret is the attachment; the generated secret is the cluster's "Secret" child.
    Validations.of(this.cluster.node.findChild("Secret")).acknowledge({
      id: "AwsSolutions-SMG4",
      reason:
        "Not rotated yet: the functions cache the credentials for the life of a container and would need to re-read the secret on an authentication failure first. Rotation is a follow-up (cluster.addRotationSingleUser once clients refresh).",
    });
    Validations.of(this.cluster).acknowledge({
      id: "AwsSolutions-RDS11",
      reason:
        "The default PostgreSQL port is kept: the cluster accepts connections only from the RDS Proxy's security group, so a different port would hide nothing.",
    });
    if (!props.deletionProtection) {
      Validations.of(this.cluster).acknowledge({
        id: "AwsSolutions-RDS10",
        reason:
          "Deletion protection is off only when the stage asks for it (default: on for prod, off for dev stacks that are torn down daily); the cluster is still snapshotted on delete.",
      });
    }

    this.proxy = this.cluster.addProxy("Proxy", {
      secrets: [this.secret],
      vpc: props.vpc,
      vpcSubnets: props.subnets,
      securityGroups: [proxySecurityGroup],
      requireTLS: true,
      borrowTimeout: Duration.seconds(props.borrowTimeoutSeconds ?? 30),
      maxConnectionsPercent: 90,
    });
    clusterSecurityGroup.addIngressRule(
      proxySecurityGroup,
      Port.tcp(DATABASE_PORT),
      "RDS Proxy to Aurora",
    );
    proxySecurityGroup.addEgressRule(
      clusterSecurityGroup,
      Port.tcp(DATABASE_PORT),
      "RDS Proxy to Aurora",
    );
    // The proxy reads the credentials from Secrets Manager; should it do so through
    // this VPC (there is no NAT), the interface endpoint is the only way out.
    proxySecurityGroup.addEgressRule(
      Peer.ipv4(props.vpc.vpcCidrBlock),
      Port.tcp(443),
      "RDS Proxy to the Secrets Manager endpoint",
    );
  }
}
