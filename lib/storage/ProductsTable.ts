import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption, type Attribute } from 'aws-cdk-lib/aws-dynamodb';
import type { CreateTableCommandInput, KeySchemaElement } from '@aws-sdk/client-dynamodb';
import { Construct } from 'constructs';
import { tableDefinition } from '../../functions/shared/products/tableDefinition.js';

export interface ProductsTableProps {
  readonly removalPolicy: RemovalPolicy;
}

const ATTRIBUTE_TYPES: Record<string, AttributeType> = { S: AttributeType.STRING, N: AttributeType.NUMBER, B: AttributeType.BINARY };

/** Translates the pipeline's CreateTable input (the single source of key names) into CDK shapes. */
export const cdkTableSchema = (definition: CreateTableCommandInput) => {
  const types = new Map((definition.AttributeDefinitions ?? []).map((a) => [a.AttributeName, a.AttributeType]));
  const attribute = (element: KeySchemaElement | undefined): Attribute | undefined => {
    if (!element?.AttributeName) return undefined;
    const type = ATTRIBUTE_TYPES[types.get(element.AttributeName) ?? ''];
    if (!type) throw new Error(`table definition: attribute ${element.AttributeName} has no AttributeDefinition`);
    return { name: element.AttributeName, type };
  };
  const keys = (schema: KeySchemaElement[] | undefined) => {
    const partitionKey = attribute(schema?.find((k) => k.KeyType === 'HASH'));
    if (!partitionKey) throw new Error('table definition: key schema lacks a HASH key');
    return { partitionKey, sortKey: attribute(schema?.find((k) => k.KeyType === 'RANGE')) };
  };
  return {
    ...keys(definition.KeySchema),
    globalSecondaryIndexes: (definition.GlobalSecondaryIndexes ?? []).map((index) => {
      if (!index.IndexName) throw new Error('table definition: a GSI lacks IndexName');
      const projection = index.Projection?.ProjectionType ?? 'ALL';
      return {
        indexName: index.IndexName,
        ...keys(index.KeySchema),
        projectionType: projection === 'KEYS_ONLY' ? ProjectionType.KEYS_ONLY : projection === 'INCLUDE' ? ProjectionType.INCLUDE : ProjectionType.ALL,
        nonKeyAttributes: index.Projection?.NonKeyAttributes,
      };
    }),
  };
};

/** Products, per-source results and vendor boilerplate statistics (one table, see the item design). */
export class ProductsTable extends Construct {
  readonly table: Table;

  constructor(scope: Construct, id: string, props: ProductsTableProps) {
    super(scope, id);
    // The name is CloudFormation's to choose; functions get it through TABLE_NAME.
    const schema = cdkTableSchema(tableDefinition('unused'));
    this.table = new Table(this, 'Table', {
      partitionKey: schema.partitionKey,
      sortKey: schema.sortKey,
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: props.removalPolicy === RemovalPolicy.RETAIN,
      removalPolicy: props.removalPolicy,
    });
    for (const index of schema.globalSecondaryIndexes) this.table.addGlobalSecondaryIndex(index);
  }
}
