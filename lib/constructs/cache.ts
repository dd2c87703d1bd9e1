import { RemovalPolicy, Validations } from "aws-cdk-lib";
import {
  Connections,
  type IConnectable,
  type IVpc,
  Port,
  SecurityGroup,
  type SubnetSelection,
} from "aws-cdk-lib/aws-ec2";
import { CfnReplicationGroup, CfnSubnetGroup } from "aws-cdk-lib/aws-elasticache";
import { Secret } from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";

export interface CacheProps {
  vpc: IVpc;
  subnets: SubnetSelection;
  nodeType: string;
  /** Replicas of the primary; at least one, in another AZ, for automatic failover. */
  replicas: number;
  /** Node groups; above 1 the group runs in cluster mode and clients use the configuration endpoint. */
  shards: number;
  engineVersion: string;
  stage: string;
  /** Cluster mode, chosen at creation (lib/config.ts refuses shards > 1 without it). */
  clusterMode?: boolean;
  /** A final snapshot when the group is deleted (CloudFormation DeletionPolicy Snapshot). */
  finalSnapshot?: boolean;
  /** Weekly maintenance window (UTC, ddd:hh:mm-ddd:hh:mm) and daily snapshot window (hh:mm-hh:mm). */
  maintenanceWindow?: string;
  snapshotWindow?: string;
  /** Of the AUTH token secret. */
  secretRemovalPolicy?: RemovalPolicy;
}

/**
 * ElastiCache for Valkey: a primary and its replicas across AZs per node
 * group, automatic failover, TLS in transit, encrypted at rest, and an AUTH
 * token generated into Secrets Manager. With one node group (the default)
 * cluster mode is off; with `-c cacheShards=N` it is on, and the functions get
 * the configuration endpoint and REDIS_CLUSTER=true. Every key of a sale (or
 * of one stock shard of a sale) shares a hash tag, so the Lua scripts run
 * unchanged either way; sales created with `shards` spread over the groups.
 */
export class Cache extends Construct implements IConnectable {
  readonly connections: Connections;
  readonly authToken: Secret;
  readonly replicationGroup: CfnReplicationGroup;
  readonly port = 6379;
  /** `rediss://<endpoint>:<port>`: TLS is required by the replication group. */
  readonly url: string;
  /** Cluster mode on: the url is the configuration endpoint. */
  readonly clusterMode: boolean;

  constructor(scope: Construct, id: string, props: CacheProps) {
    super(scope, id);
    this.clusterMode = props.clusterMode ?? props.shards > 1;

    // The AUTH token is the secret's whole SecretString: 64 letters and digits
    // (ElastiCache forbids some punctuation; length beats symbols anyway).
    this.authToken = new Secret(this, "AuthToken", {
      description: `Flash Sale (${props.stage}): AUTH token of the Valkey replication group`,
      generateSecretString: { excludePunctuation: true, includeSpace: false, passwordLength: 64 },
      removalPolicy: props.secretRemovalPolicy ?? RemovalPolicy.DESTROY,
    });
    Validations.of(this.authToken).acknowledge({
      id: "AwsSolutions-SMG4",
      reason:
        "Rotating an ElastiCache AUTH token needs a custom rotation function that calls ModifyReplicationGroup (ROTATE then SET) and clients that re-read the secret; not built yet. The token never leaves Secrets Manager and the cache is reachable only from the functions' security groups over TLS.",
    });

    const securityGroup = new SecurityGroup(this, "SecurityGroup", {
      vpc: props.vpc,
      description: "Valkey replication group: inbound only from functions that use Redis",
      allowAllOutbound: false,
    });
    this.connections = new Connections({
      securityGroups: [securityGroup],
      defaultPort: Port.tcp(this.port),
    });

    const subnetGroup = new CfnSubnetGroup(this, "SubnetGroup", {
      description: "Flash Sale cache subnets (isolated data subnets, one per AZ)",
      subnetIds: props.vpc.selectSubnets(props.subnets).subnetIds,
    });

    this.replicationGroup = new CfnReplicationGroup(this, "ReplicationGroup", {
      replicationGroupDescription: `Flash Sale (${props.stage}) reservations`,
      engine: "valkey",
      engineVersion: props.engineVersion,
      cacheNodeType: props.nodeType,
      clusterMode: this.clusterMode ? "enabled" : "disabled",
      numNodeGroups: props.shards,
      replicasPerNodeGroup: props.replicas,
      automaticFailoverEnabled: true,
      multiAzEnabled: true,
      transitEncryptionEnabled: true,
      transitEncryptionMode: "required",
      atRestEncryptionEnabled: true,
      authToken: this.authToken.secretValue.unsafeUnwrap(),
      port: this.port,
      cacheSubnetGroupName: subnetGroup.ref,
      securityGroupIds: [securityGroup.securityGroupId],
      autoMinorVersionUpgrade: true,
      snapshotRetentionLimit: 1,
      preferredMaintenanceWindow: props.maintenanceWindow,
      snapshotWindow: props.snapshotWindow,
    });
    if (this.clusterMode) {
      // A change of NumNodeGroups adds or removes shards in place (online resharding)
      // instead of replacing the group, which would start it empty.
      this.replicationGroup.cfnOptions.updatePolicy = { useOnlineResharding: true };
    }
    if (props.finalSnapshot) this.replicationGroup.applyRemovalPolicy(RemovalPolicy.SNAPSHOT);
    this.replicationGroup.addResourceDependency(subnetGroup);
    Validations.of(this.replicationGroup).acknowledge({
      id: "AwsSolutions-AEC5",
      reason:
        "The default port is kept on purpose: a different port hides nothing from anyone inside the VPC, and access is already limited to the functions' security groups, TLS and the AUTH token.",
    });

    this.url = this.clusterMode
      ? `rediss://${this.replicationGroup.attrConfigurationEndPointAddress}:${this.replicationGroup.attrConfigurationEndPointPort}`
      : `rediss://${this.replicationGroup.attrPrimaryEndPointAddress}:${this.replicationGroup.attrPrimaryEndPointPort}`;
  }
}
